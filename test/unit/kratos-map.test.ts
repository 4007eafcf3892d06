import { describe, expect, it } from 'vitest';
import { flowErrors, nodeNameToPointer } from '../../src/kratos/map.ts';
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

  it('recognises v1.3.1 email format errors (generic 4000001) as INVALID_EMAIL', () => {
    expect(flowErrors(ui('registration-bad-email'), '/traits/email')).toEqual([
      { pointer: '/traits/email', code: 'INVALID_EMAIL', message: '"not-an-email" is not valid "email"', kratos: { id: 4000001 } },
    ]);
  });

  it('maps the password length policy to /password', () => {
    expect(flowErrors(ui('registration-short-password'), '/traits/email')).toEqual([
      { pointer: '/password', code: 'PASSWORD_TOO_SHORT', message: 'The password must be at least 8 characters long, but got 5.', kratos: { id: 4000032 } },
    ]);
  });

  it('keeps unknown generic messages as KRATOS_MESSAGE at their node', () => {
    expect(flowErrors(ui('registration-unknown-trait'), '/traits/email')).toEqual([
      { pointer: '/traits', code: 'KRATOS_MESSAGE', message: 'additionalProperties "foo" not allowed', kratos: { id: 4000001 } },
    ]);
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
