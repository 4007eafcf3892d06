import { describe, expect, it } from 'vitest';
import { nativeFlows } from '../../src/kratos/flows.ts';
import { codeFingerprint, decryptToken, encryptToken, openHandle, retryKey, sealHandle } from '../../src/recovery/handle.ts';
import { createSessionCookies } from '../../src/session/cookie.ts';
import { mergePatch } from '../../src/settings/merge.ts';

describe('mergePatch (RFC 7396) for profile updates', () => {
  const current = { email: 'a@b.c', name: { first: 'Ada', last: 'Lovelace' }, tags: ['x', 'y'], newsletter: true };
  it('merges objects, replaces arrays and scalars, deletes on null, keeps the rest', () => {
    expect(mergePatch(current, { name: { first: 'Augusta' }, tags: ['z'], newsletter: null })).toEqual({
      email: 'a@b.c',
      name: { first: 'Augusta', last: 'Lovelace' },
      tags: ['z'],
    });
    expect(current.name.first).toBe('Ada');
  });
  it('an object over a scalar replaces it; an empty patch changes nothing', () => {
    expect(mergePatch({ a: 1 }, { a: { b: 2 } })).toEqual({ a: { b: 2 } });
    expect(mergePatch(current, {})).toEqual(current);
  });
});

describe('settings answers', () => {
  const map = nativeFlows.settings.mapAnswer;
  it('403 session_refresh_required and session_aal2_required are their own kinds; 401 is unauthenticated', () => {
    expect(map({ kind: 'answer', status: 403, body: { error: { id: 'session_refresh_required' } } }, '/traits/email')).toEqual({ kind: 'refresh_required' });
    expect(map({ kind: 'answer', status: 403, body: { error: { id: 'session_aal2_required' } } }, '/traits/email')).toEqual({ kind: 'aal2_required' });
    expect(map({ kind: 'answer', status: 401, body: { error: { id: 'session_inactive' } } }, '/traits/email')).toEqual({ kind: 'unauthenticated' });
  });
  it('sends the method payload as given (generic over methods)', () => {
    expect(nativeFlows.settings.payload({ method: 'totp', fields: { totp_code: '123456' } })).toEqual({ method: 'totp', totp_code: '123456' });
    expect(nativeFlows.settings.payload({ method: 'lookup_secret', fields: { lookup_secret_confirm: true, method: 'ignored' } })).toEqual({
      method: 'lookup_secret',
      lookup_secret_confirm: true,
    });
  });
});

describe('recovery answers', () => {
  const map = nativeFlows.recovery.mapAnswer;
  it('a wrong code is 200 with 4060006; the 6th attempt is too_many_attempts; success carries the token', () => {
    expect(map({ kind: 'answer', status: 200, body: { id: 'f', state: 'sent_email', ui: { messages: [{ id: 4060006, text: 'x', type: 'error' }], nodes: [] } } }, '/email')).toEqual({
      kind: 'code_invalid',
    });
    expect(map({ kind: 'answer', status: 400, body: { error: { code: 400, reason: 'The request was submitted too often. Please request another code.' } } }, '/email')).toEqual({
      kind: 'too_many_attempts',
    });
    expect(
      map(
        {
          kind: 'answer',
          status: 200,
          body: { id: 'f', state: 'passed_challenge', continue_with: [{ action: 'set_ory_session_token', ory_session_token: 'ory_st_abc' }, { action: 'show_settings_ui' }] },
        },
        '/email',
      ),
    ).toEqual({ kind: 'recovered', sessionToken: 'ory_st_abc' });
    // Without the feature flag there is no token: never reported as success.
    expect(map({ kind: 'answer', status: 200, body: { id: 'f', state: 'passed_challenge', continue_with: [] } }, '/email').kind).toBe('upstream_error');
  });
  it('never sends an email with a code', () => {
    expect(nativeFlows.recovery.payload({ code: '123456' })).toEqual({ method: 'code', code: '123456' });
  });
});

describe('recovery handle and retry record', () => {
  const flowId = '0b2f3c4d-1111-4222-8333-944455556666';
  it('seals the flow id, refuses a session cookie and a tampered handle', async () => {
    const cookies = createSessionCookies(['handle-test-secret-0123456789abcdefghij'])!;
    const handle = await sealHandle(cookies, flowId, Date.now() + 60_000);
    expect(handle).not.toContain(flowId);
    expect(await openHandle(cookies, handle, Date.now())).toBe(flowId);
    expect(await openHandle(cookies, handle, Date.now() + 120_000)).toBeUndefined();
    const sessionCookie = await cookies.seal('ory_st_token', Date.now() + 60_000);
    expect(await openHandle(cookies, sessionCookie, Date.now())).toBeUndefined();
    expect(await openHandle(cookies, handle.slice(0, -2) + (handle.endsWith('AA') ? 'BB' : 'AA'), Date.now())).toBeUndefined();
    expect(await openHandle(undefined, flowId, Date.now())).toBe(flowId);
    expect(await openHandle(undefined, 'not-a-uuid', Date.now())).toBeUndefined();
  });
  it('the token opens only with the handle; key and fingerprint reveal neither handle nor code', async () => {
    const sealed = await encryptToken('handle-1', 'ory_st_secret_token');
    expect(sealed).not.toContain('ory_st');
    expect(await decryptToken('handle-1', sealed)).toBe('ory_st_secret_token');
    expect(await decryptToken('handle-2', sealed)).toBeUndefined();
    expect(await retryKey('handle-1')).not.toContain('handle-1');
    expect(await codeFingerprint('handle-1', '123456')).not.toBe(await codeFingerprint('handle-1', '123457'));
  });
});
