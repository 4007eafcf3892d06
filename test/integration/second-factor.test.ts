import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestCode } from '../support/courier-code.ts';
import { postJson, registerSecret, startTestGateway, uniqueEmail, whoami, type TestGateway } from '../support/gateway.ts';
import { totp, wrongTotp } from '../support/totp.ts';

/**
 * Second factor (TOTP, lookup codes) and passwordless code login against the real Kratos
 * (config/kratos/kratos.yml: totp, lookup_secret, code passwordless, whoami
 * required_aal: highest_available). Codes come from Kratos's courier admin API.
 */

const PASSWORD = 'correct-horse-battery-staple';
const SECRET = 'second-factor-session-secret-0123456789';

let token: TestGateway;
let cookie: TestGateway;
beforeAll(async () => {
  token = await startTestGateway({ config: { secrets: { session: [SECRET] }, session: { client_choice: true } } });
  cookie = await startTestGateway({ config: { secrets: { session: [SECRET] }, session: { delivery: 'cookie', client_choice: true, cookie: { secure: false } } } });
});
afterAll(async () => {
  await Promise.all([token?.close(), cookie?.close()]);
});

const signUp = async (gw: TestGateway, email: string) => {
  const res = await postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD }, { 'x-session-delivery': 'token' });
  expect(res.status).toBe(200);
  return res.body as { session_token: string; identity: { id: string } };
};
const logIn = (gw: TestGateway, email: string) => postJson(`${gw.url}/v1/login`, { identifier: email, password: PASSWORD });
const secondFactor = (gw: TestGateway, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  postJson(`${gw.url}/v1/login/second-factor`, body, headers);

/** Kratos's own settings API (test setup only): enrols TOTP for the token's identity; returns the secret. */
async function enrolTotpInKratos(publicUrl: string, sessionToken: string): Promise<string> {
  const flow = (await (await fetch(`${publicUrl}/self-service/settings/api`, { headers: { 'x-session-token': sessionToken, accept: 'application/json' } })).json()) as any;
  const node = flow.ui.nodes.find((n: any) => n.attributes.id === 'totp_secret_key');
  const secret = node.attributes.text.context.secret as string;
  registerSecret(secret);
  const res = await fetch(`${publicUrl}/self-service/settings?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'x-session-token': sessionToken, accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify({ method: 'totp', totp_code: totp(secret) }),
  });
  expect(res.status).toBe(200);
  return secret;
}

/** Kratos's own settings API (test setup only): generates and confirms lookup codes; returns them. */
async function enrolLookupInKratos(publicUrl: string, sessionToken: string): Promise<string[]> {
  const headers = { 'x-session-token': sessionToken, accept: 'application/json', 'content-type': 'application/json' };
  const flow = (await (await fetch(`${publicUrl}/self-service/settings/api`, { headers })).json()) as any;
  const post = (body: unknown) => fetch(`${publicUrl}/self-service/settings?flow=${flow.id}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const shown = (await (await post({ method: 'lookup_secret', lookup_secret_regenerate: true })).json()) as any;
  const codes = shown.ui.nodes.find((n: any) => n.attributes.id === 'lookup_secret_codes').attributes.text.context.secrets.map((s: any) => s.context.secret as string);
  registerSecret(...codes);
  expect((await post({ method: 'lookup_secret', lookup_secret_confirm: true })).status).toBe(200);
  return codes;
}

function expectSecondFactorRequired(res: { status: number; body: any }, methods: string[]) {
  expect(res.status).toBe(403);
  expect(res.body.code).toBe('SECOND_FACTOR_REQUIRED');
  expect(res.body.methods).toEqual(methods);
  expect(typeof res.body.handle).toBe('string');
  // The AAL1 token is sealed into the handle, never handed out.
  expect(JSON.stringify(res.body)).not.toMatch(/ory_st_/);
  expect(res.body).not.toHaveProperty('session_token');
  registerSecret(res.body.handle);
}

describe('TOTP second factor at login', () => {
  it('password login answers SECOND_FACTOR_REQUIRED; a wrong TOTP is a field error; the right one gives an aal2 token', async () => {
    const email = uniqueEmail('totp');
    const reg = await signUp(token, email);
    const secret = await enrolTotpInKratos(token.kratos.publicUrl, reg.session_token);

    const first = await logIn(token, email);
    expectSecondFactorRequired(first, ['totp']);

    const wrong = await secondFactor(token, { handle: first.body.handle, totp_code: wrongTotp(secret) });
    expect(wrong.status).toBe(400);
    expect(wrong.body.code).toBe('VALIDATION_FAILED');
    expect(wrong.body.errors).toEqual([expect.objectContaining({ pointer: '/totp_code', code: 'INVALID_CODE', kratos: { id: 4000008 } })]);

    const ok = await secondFactor(token, { handle: first.body.handle, totp_code: totp(secret) });
    expect(ok.status).toBe(200);
    expect(ok.body.session.authenticator_assurance_level).toBe('aal2');
    const kratosView = await whoami(token.kratos.publicUrl, ok.body.session_token);
    expect(kratosView.status).toBe(200);
    expect(kratosView.body.authenticator_assurance_level).toBe('aal2');
    const me = await fetch(`${token.url}/v1/session`, { headers: { authorization: `Bearer ${ok.body.session_token}` } });
    expect(me.status).toBe(200);
  });

  it('delivers the aal2 session as a cookie in cookie mode', async () => {
    const email = uniqueEmail('totpcookie');
    const reg = await signUp(cookie, email);
    const secret = await enrolTotpInKratos(cookie.kratos.publicUrl, reg.session_token);
    const first = await logIn(cookie, email);
    expectSecondFactorRequired(first, ['totp']);
    expect(first.headers.getSetCookie()).toEqual([]);
    const ok = await secondFactor(cookie, { handle: first.body.handle, totp_code: totp(secret) });
    expect(ok.status).toBe(200);
    expect(ok.body).not.toHaveProperty('session_token');
    const jar = ok.headers.getSetCookie().find((c) => c.startsWith('kbff_session='))!.split(';')[0]!;
    const me = await fetch(`${cookie.url}/v1/session`, { headers: { cookie: jar } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as any).session.authenticator_assurance_level).toBe('aal2');
  });

  it('an AAL1 session gets SECOND_FACTOR_REQUIRED (403, no handle) on GET /v1/session, and not after the second factor', async () => {
    const email = uniqueEmail('stepup');
    const reg = await signUp(token, email);
    // A second session, made before enrolment: it stays aal1 when the other one enrols.
    const other = await logIn(token, email);
    expect(other.status).toBe(200);
    const aal1 = other.body.session_token as string;
    const secret = await enrolTotpInKratos(token.kratos.publicUrl, reg.session_token);

    const before = await fetch(`${token.url}/v1/session`, { headers: { authorization: `Bearer ${aal1}` } });
    expect(before.status).toBe(403);
    const problem = (await before.json()) as any;
    expect(problem.code).toBe('SECOND_FACTOR_REQUIRED');
    // No handle: this client steps up with the session it holds.
    expect(problem).not.toHaveProperty('handle');

    const up = await secondFactor(token, { totp_code: totp(secret) }, { authorization: `Bearer ${aal1}` });
    expect(up.status).toBe(200);
    expect(up.body.session.authenticator_assurance_level).toBe('aal2');
    // A step-up keeps the client's token: it is not handed out again.
    expect(up.body).not.toHaveProperty('session_token');

    const after = await fetch(`${token.url}/v1/session`, { headers: { authorization: `Bearer ${aal1}` } });
    expect(after.status).toBe(200);
    expect(((await after.json()) as any).session.authenticator_assurance_level).toBe('aal2');
  });

  it('refuses a forged or tampered handle, and a handle with both codes or none', async () => {
    const email = uniqueEmail('forged');
    const reg = await signUp(token, email);
    const secret = await enrolTotpInKratos(token.kratos.publicUrl, reg.session_token);
    const first = await logIn(token, email);
    const h = first.body.handle as string;
    const tampered = h.slice(0, -2) + (h.endsWith('A') ? 'BA' : 'AA');
    for (const handle of [tampered, 'h1.AAAA.AAAA', 'nonsense']) {
      const res = await secondFactor(token, { handle, totp_code: totp(secret) });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('HANDLE_INVALID');
    }
    expect((await secondFactor(token, { handle: h })).body.code).toBe('VALIDATION_FAILED');
    expect((await secondFactor(token, { handle: h, totp_code: '1', lookup_code: 'x' })).body.code).toBe('VALIDATION_FAILED');
    // A code-login handle does not open here (purposes are sealed in).
    const codeHandle = (await postJson(`${token.url}/v1/login/code`, { identifier: email })).body.handle as string;
    registerSecret(codeHandle);
    expect((await secondFactor(token, { handle: codeHandle, totp_code: totp(secret) })).body.code).toBe('HANDLE_INVALID');
  });
});

describe('lookup (backup) codes at login', () => {
  it('each code works once and is refused the second time', async () => {
    const email = uniqueEmail('lookup');
    const reg = await signUp(token, email);
    const codes = await enrolLookupInKratos(token.kratos.publicUrl, reg.session_token);
    expect(codes).toHaveLength(12);

    const first = await logIn(token, email);
    expectSecondFactorRequired(first, ['lookup_code']);
    const ok = await secondFactor(token, { handle: first.body.handle, lookup_code: codes[0] });
    expect(ok.status).toBe(200);
    expect((await whoami(token.kratos.publicUrl, ok.body.session_token)).body.authenticator_assurance_level).toBe('aal2');

    const again = await logIn(token, email);
    const reused = await secondFactor(token, { handle: again.body.handle, lookup_code: codes[0] });
    expect(reused.status).toBe(400);
    expect(reused.body.errors).toEqual([expect.objectContaining({ pointer: '/lookup_code', code: 'INVALID_CODE', kratos: { id: 4000012 } })]);
    const unknown = await secondFactor(token, { handle: again.body.handle, lookup_code: 'zzzzzzzz' });
    expect(unknown.body.errors).toEqual([expect.objectContaining({ pointer: '/lookup_code', code: 'INVALID_CODE', kratos: { id: 4000016 } })]);
    const next = await secondFactor(token, { handle: again.body.handle, lookup_code: codes[1] });
    expect(next.status).toBe(200);
  });
});

describe('passwordless code login', () => {
  it('sends a code, refuses a wrong one, signs in with the right one', async () => {
    const email = uniqueEmail('codelogin');
    await signUp(token, email);
    const sent = await postJson(`${token.url}/v1/login/code`, { identifier: email });
    expect(sent.status).toBe(200);
    expect(Object.keys(sent.body)).toEqual(['handle']);
    registerSecret(sent.body.handle);
    const code = await latestCode(token.kratos.adminUrl, email, 'login_code_valid');
    registerSecret(code);

    const wrongCode = code === '000000' ? '111111' : '000000';
    const wrong = await postJson(`${token.url}/v1/login/code/verify`, { handle: sent.body.handle, code: wrongCode });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors).toEqual([expect.objectContaining({ pointer: '/code', code: 'INVALID_CODE' })]);
    expect(JSON.stringify(wrong.body)).not.toContain(wrongCode);

    const ok = await postJson(`${token.url}/v1/login/code/verify`, { handle: sent.body.handle, code }, { 'x-session-delivery': 'token' });
    expect(ok.status).toBe(200);
    const kratosView = await whoami(token.kratos.publicUrl, ok.body.session_token);
    expect(kratosView.status).toBe(200);
    expect(kratosView.body.identity.traits.email).toBe(email);
    expect(kratosView.body.authentication_methods.map((m: any) => m.method)).toContain('code');
  });

  it('answers an unknown identifier exactly like a known one, and its handle fails like a wrong code', async () => {
    const known = uniqueEmail('codeknown');
    await signUp(token, known);
    const strip = ({ handle: _h, request_id: _r, ...rest }: any) => rest;
    const a = await postJson(`${token.url}/v1/login/code`, { identifier: known });
    const b = await postJson(`${token.url}/v1/login/code`, { identifier: uniqueEmail('codenobody') });
    registerSecret(a.body.handle, b.body.handle);
    expect(b.status).toBe(a.status);
    expect(strip(b.body)).toEqual(strip(a.body));
    expect(b.headers.get('content-type')).toBe(a.headers.get('content-type'));
    expect(b.body.handle.length).toBeGreaterThan(20);

    const wrongKnown = await postJson(`${token.url}/v1/login/code/verify`, { handle: a.body.handle, code: '123456' });
    const wrongUnknown = await postJson(`${token.url}/v1/login/code/verify`, { handle: b.body.handle, code: '123456' });
    expect(wrongUnknown.status).toBe(wrongKnown.status);
    expect(strip(wrongUnknown.body)).toEqual(strip(wrongKnown.body));
  });

  it('the 6th code submission fails even with the right code (Kratos limit): CODE_ATTEMPTS_EXHAUSTED', async () => {
    const email = uniqueEmail('codelimit');
    await signUp(token, email);
    const sent = await postJson(`${token.url}/v1/login/code`, { identifier: email });
    registerSecret(sent.body.handle);
    const code = await latestCode(token.kratos.adminUrl, email, 'login_code_valid');
    registerSecret(code);
    const wrongCode = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      const res = await postJson(`${token.url}/v1/login/code/verify`, { handle: sent.body.handle, code: wrongCode });
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    const sixth = await postJson(`${token.url}/v1/login/code/verify`, { handle: sent.body.handle, code });
    expect(sixth.status).toBe(400);
    expect(sixth.body.code).toBe('CODE_ATTEMPTS_EXHAUSTED');
  });

  it('a TOTP user signing in by code still needs the second factor', async () => {
    const email = uniqueEmail('codetotp');
    const reg = await signUp(token, email);
    const secret = await enrolTotpInKratos(token.kratos.publicUrl, reg.session_token);
    const sent = await postJson(`${token.url}/v1/login/code`, { identifier: email });
    registerSecret(sent.body.handle);
    const code = await latestCode(token.kratos.adminUrl, email, 'login_code_valid');
    registerSecret(code);
    const first = await postJson(`${token.url}/v1/login/code/verify`, { handle: sent.body.handle, code });
    expectSecondFactorRequired(first, ['totp']);
    const ok = await secondFactor(token, { handle: first.body.handle, totp_code: totp(secret) });
    expect(ok.status).toBe(200);
    expect((await whoami(token.kratos.publicUrl, ok.body.session_token)).body.authenticator_assurance_level).toBe('aal2');
  });
});
