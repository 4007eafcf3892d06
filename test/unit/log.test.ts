import { describe, expect, it } from 'vitest';
import { createLogger, redact } from '../../src/shared/log.ts';

describe('redact', () => {
  it('replaces secret-named keys at any depth and token-like values anywhere', () => {
    expect(
      redact({
        password: 'p',
        nested: { session_token: 't', Authorization: 'Bearer x', cookie: 'c', api_key: 'k', 'X-Api-Key': 'k2', ok: 'fine' },
        message: 'failed for ory_st_ABCDEFGHIJKLMNOP and Bearer abc.def',
        list: [{ secret: 's' }],
      }),
    ).toEqual({
      password: '[REDACTED]',
      nested: { session_token: '[REDACTED]', Authorization: '[REDACTED]', cookie: '[REDACTED]', api_key: '[REDACTED]', 'X-Api-Key': '[REDACTED]', ok: 'fine' },
      message: 'failed for [REDACTED] and [REDACTED]',
      list: [{ secret: '[REDACTED]' }],
    });
  });

  it('serialises errors without losing their message', () => {
    expect(redact(new Error('boom'))).toMatchObject({ name: 'Error', message: 'boom' });
  });
});

describe('createLogger', () => {
  it('writes JSON lines at or above its level with bound fields', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', sink: (l) => lines.push(l), now: () => new Date(0) }).child({ request_id: 'r1' });
    log.debug('hidden');
    log.info('shown', { password: 'x' });
    expect(lines.map((l) => JSON.parse(l))).toEqual([{ level: 'info', time: '1970-01-01T00:00:00.000Z', msg: 'shown', request_id: 'r1', password: '[REDACTED]' }]);
  });
});

describe('redaction keeps what is not secret', () => {
  it('leaves error codes and ids readable', () => {
    expect(redact({ code: 'SIGNUP_ROLLED_BACK', identity_id: 'abc', status: 503 })).toEqual({ code: 'SIGNUP_ROLLED_BACK', identity_id: 'abc', status: 503 });
  });
});
