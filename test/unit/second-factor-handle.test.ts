import { describe, expect, it } from 'vitest';
import { nativeFlows } from '../../src/kratos/flows.ts';
import { createHandleSealer } from '../../src/second-factor/handle.ts';

const A = 'handle-secret-a-0123456789abcdefghijklmnop';
const B = 'handle-secret-b-0123456789abcdefghijklmnop';

describe('sealed handles', () => {
  it('open with the purpose they were sealed for, until they expire; the token is not readable', async () => {
    const sealer = createHandleSealer([A]);
    const handle = await sealer.seal('second_factor', { t: 'ory_st_secret_token_value' }, 2_000);
    expect(handle).toMatch(/^h1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(handle).not.toContain('ory_st');
    expect(await sealer.open('second_factor', handle, 1_999)).toEqual({ t: 'ory_st_secret_token_value' });
    expect(await sealer.open('second_factor', handle, 2_000)).toBeUndefined();
    expect(await sealer.open('login_code', handle, 1_000)).toBeUndefined();
  });

  it('refuses tampered and foreign handles; rotation: an old secret still opens', async () => {
    const old = createHandleSealer([B]);
    const handle = await old.seal('login_code', { f: 'flow', i: 'a@b.c' }, 10_000);
    const rotated = createHandleSealer([A, B]);
    expect(await rotated.open('login_code', handle, 0)).toEqual({ f: 'flow', i: 'a@b.c' });
    expect(await createHandleSealer([A]).open('login_code', handle, 0)).toBeUndefined();
    const [v, iv, data] = handle.split('.');
    const flipped = data!.startsWith('A') ? `B${data!.slice(1)}` : `A${data!.slice(1)}`;
    for (const bad of [`${v}.${iv}.${flipped}`, `${v}.${iv}`, `h2.${iv}.${data}`, '', 'x'.repeat(20_000)]) {
      expect(await rotated.open('login_code', bad, 0)).toBeUndefined();
    }
  });

  it('without secrets, a per-process key still seals and opens', async () => {
    const sealer = createHandleSealer([]);
    expect(await sealer.open('settings', await sealer.seal('settings', { k: 'x' }, 10), 0)).toEqual({ k: 'x' });
  });
});

describe('Kratos answers of the code and second-factor steps', () => {
  const ui = (messages: Array<{ id: number; type: string; text?: string }>) => ({ nodes: [], messages: messages.map((m) => ({ text: '', ...m })) });
  it('code login: the 400 "sent" step is success; 4000035 is an unknown identifier, not a field error; 4010008 a wrong code', () => {
    const map = (status: number, body: unknown) => nativeFlows.login_code.mapAnswer({ kind: 'answer', status, body: body as never }, '/traits/email');
    expect(map(400, { state: 'sent_email', ui: ui([{ id: 1010014, type: 'info' }]) })).toEqual({ kind: 'sent' });
    expect(map(400, { state: 'choose_method', ui: ui([{ id: 4000035, type: 'error' }]) })).toEqual({ kind: 'unknown_identifier' });
    expect(map(400, { state: 'sent_email', ui: ui([{ id: 4010008, type: 'error' }]) })).toEqual({ kind: 'invalid_code' });
    expect(map(400, { ui: ui([{ id: 4000001, type: 'error', text: 'The request was submitted too often. Please request another code.' }]) })).toEqual({ kind: 'attempts_exhausted' });
    expect(map(410, { error: { id: 'self_service_flow_expired' }, use_flow_id: 'n' })).toEqual({ kind: 'expired', newFlowId: 'n' });
  });

  it('second factor: wrong TOTP and used backup code become field errors on our body fields', () => {
    const map = (body: unknown) => nativeFlows.login_second_factor.mapAnswer({ kind: 'answer', status: 400, body: body as never }, '/traits/email');
    expect(map({ ui: ui([{ id: 4000008, type: 'error' }]) })).toEqual({ kind: 'invalid', errors: [expect.objectContaining({ pointer: '/totp_code', code: 'CODE_INVALID' })] });
    expect(map({ ui: ui([{ id: 4000012, type: 'error' }]) })).toEqual({ kind: 'invalid', errors: [expect.objectContaining({ pointer: '/lookup_code', code: 'CODE_INVALID' })] });
    const noSession = nativeFlows.login_second_factor.mapAnswer({ kind: 'answer', status: 401, body: { error: { id: 'session_aal1_required' } } as never }, '');
    expect(noSession).toEqual({ kind: 'unauthenticated' });
  });
});
