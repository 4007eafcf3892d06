import { describe, expect, it } from 'vitest';
import { flowErrors, nodeNameToPointer } from '../../src/kratos/messages.ts';
import { fixture } from '../support/fake-kratos.ts';

const ui = (name: string) => (fixture(name) as { ui: Parameters<typeof flowErrors>[0] }).ui;

describe('Kratos flow messages → field errors (recorded from Kratos v1.3.1)', () => {
  it('puts a duplicate identifier (flow-level 4000007) on the identifier trait', () => {
    expect(flowErrors(ui('registration-duplicate'), '/traits/email')).toEqual([
      { pointer: '/traits/email', code: 'IDENTIFIER_TAKEN', message: 'An account with this email exists already.', kratos: { id: 4000007 } },
    ]);
  });

  it('honours a configured identifier pointer', () => {
    expect(flowErrors(ui('registration-duplicate'), '/traits/username')[0]?.pointer).toBe('/traits/username');
  });

  it('recognises v1.3.1 email format errors (generic 4000001) as INVALID_EMAIL, without echoing the value', () => {
    expect(flowErrors(ui('registration-bad-email'), '/traits/email')).toEqual([
      { pointer: '/traits/email', code: 'INVALID_EMAIL', message: 'The value is not a valid email address.', kratos: { id: 4000001 } },
    ]);
  });

  it('maps the password length policy to /password', () => {
    expect(flowErrors(ui('registration-short-password'), '/traits/email')).toEqual([
      { pointer: '/password', code: 'PASSWORD_TOO_SHORT', message: 'The password must be at least 8 characters long, but got 5.', kratos: { id: 4000032 } },
    ]);
  });

  it('reports a trait the identity schema does not declare as UNKNOWN_FIELD at /traits, without its name', () => {
    expect(flowErrors(ui('registration-unknown-trait'), '/traits/email')).toEqual([
      { pointer: '/traits', code: 'UNKNOWN_FIELD', message: 'The request contains a property that is not allowed.', kratos: { id: 4000001 } },
    ]);
  });

  // Kratos writes what the client sent into these texts (text/message_validation.go).
  it.each([
    [4000001, 'KRATOS_MESSAGE', '"S3cr3t-x" is not valid "uri"'],
    [4000005, 'PASSWORD_POLICY', 'The password can not be used because Get https://api.pwnedpasswords.com/range/S3cr3t: timeout.'],
    [4000020, 'OUT_OF_RANGE', 'must be <= 10 but found 7331'],
    [4000028, 'IDENTIFIER_TAKEN', 'You tried signing in with S3cr3t@example.com which is already in use by another account.'],
    [4999999, 'KRATOS_MESSAGE', 'something about S3cr3t'],
  ])('does not pass on the text of message %i (%s), which can quote the submitted data', (id, code, text) => {
    const [error] = flowErrors(
      { action: '', method: 'POST', nodes: [{ type: 'input', group: 'default', attributes: { name: 'traits.x', type: 'text', node_type: 'input', disabled: false }, messages: [{ id, text, type: 'error' }], meta: {} }] },
      '/traits/email',
    );
    expect(error?.code).toBe(code);
    expect(error?.message).not.toMatch(/S3cr3t|7331/);
    expect(error?.message.length).toBeGreaterThan(0);
  });

  it('passes on texts built only from the schema and lengths', () => {
    const [error] = flowErrors(
      { action: '', method: 'POST', nodes: [{ type: 'input', group: 'default', attributes: { name: 'traits.x', type: 'text', node_type: 'input', disabled: false }, messages: [{ id: 4000003, text: 'length must be >= 3, but got 1', type: 'error' }], meta: {} }] },
      '/traits/email',
    );
    expect(error?.message).toBe('length must be >= 3, but got 1');
  });

  it.each([
    [4000002, 'REQUIRED'],
    [4000003, 'TOO_SHORT'],
    [4000004, 'PATTERN_MISMATCH'],
    [4000005, 'PASSWORD_POLICY'],
    [4000017, 'TOO_LONG'],
    [4000026, 'INVALID_TYPE'],
    [4000028, 'IDENTIFIER_TAKEN'],
    [4000031, 'PASSWORD_TOO_SIMILAR'],
    [4000033, 'PASSWORD_TOO_LONG'],
    [4000034, 'PASSWORD_BREACHED'],
    [4000040, 'INVALID_EMAIL'],
    [4999999, 'KRATOS_MESSAGE'],
  ])('maps message id %i to %s', (id, code) => {
    const errors = flowErrors(
      { action: '', method: 'POST', nodes: [{ type: 'input', group: 'default', attributes: { name: 'traits.x', type: 'text', node_type: 'input', disabled: false }, messages: [{ id, text: 't', type: 'error' }], meta: {} }] },
      '/traits/email',
    );
    expect(errors[0]?.code).toBe(code);
  });

  it('ignores info messages', () => {
    expect(flowErrors({ action: '', method: 'POST', nodes: [], messages: [{ id: 1040009, text: 'choose', type: 'info' }] }, '/traits/email')).toEqual([]);
  });

  it.each([
    ['traits.email', '/traits/email'],
    ['traits.name.first', '/traits/name/first'],
    ['password', '/password'],
    ['traits.a/b', '/traits/a~1b'],
    ['csrf_token', ''],
    ['', ''],
  ])('node %j → pointer %j', (name, pointer) => {
    expect(nodeNameToPointer(name)).toBe(pointer);
  });
});
