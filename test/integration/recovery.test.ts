import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKratos, type KratosInstance } from '../../scripts/kratos.ts';
import type { ConfigInput } from '../../src/config.ts';
import { latestCode } from '../support/courier.ts';
import { postJson, registerSecret, startTestGateway, uniqueEmail, whoami, type TestGateway } from '../support/gateway.ts';

/**
 * Recovery by code against the real Kratos; codes come from Kratos's courier (admin API). This
 * file's Kratos runs `revoke_active_sessions` after a password change in settings; the suite's
 * main Kratos does not.
 */

const PASSWORD = 'correct-horse-battery-staple';
const NEW_PASSWORD = 'recovered-passphrase-2026';
registerSecret(NEW_PASSWORD);
const APP = 'https://app.example.com';
const config = {
  cors: { allowed_origins: [APP] },
  secrets: { session: ['recovery-session-secret-0123456789abcdef'] },
  session: { client_choice: true, cookie: { secure: false } },
} satisfies Partial<ConfigInput>;

let kratos: KratosInstance;
let gw: TestGateway;
let mainGw: TestGateway;
beforeAll(async () => {
  kratos = await startKratos({ overlay: { selfservice: { flows: { settings: { after: { password: { hooks: [{ hook: 'revoke_active_sessions' }] } } } } } }, log: () => {} });
  gw = await startTestGateway({ config: { ...config, kratos: { public_url: kratos.publicUrl, admin_url: kratos.adminUrl } } });
  mainGw = await startTestGateway({ config });
}, 60_000);
afterAll(async () => {
  await Promise.all([gw?.close(), mainGw?.close()]);
  await kratos?.stop();
});

const signUp = async (g: TestGateway, email: string) => {
  const res = await postJson(`${g.url}/v1/registration`, { traits: { email }, password: PASSWORD }, { 'x-session-delivery': 'token' });
  expect(res.status).toBe(200);
  return res.body.session_token as string;
};
const logIn = (g: TestGateway, email: string, password: string) => postJson(`${g.url}/v1/login`, { identifier: email, password }, { 'x-session-delivery': 'token' });
const start = (g: TestGateway, email: string) => postJson(`${g.url}/v1/recovery`, { email });
const complete = (g: TestGateway, body: Record<string, unknown>, headers: Record<string, string> = { 'x-session-delivery': 'token' }) =>
  postJson(`${g.url}/v1/recovery/code`, body, headers);
const code = (k: { adminUrl: string }, email: string) => latestCode(k.adminUrl, email, { templateType: 'recovery_code_valid' });

describe('start recovery', () => {
  it('answers unknown and known addresses alike (status, body shape, timing)', async () => {
    const known = uniqueEmail('rec-known');
    await signUp(gw, known);
    const times: Record<'known' | 'unknown', number[]> = { known: [], unknown: [] };
    const answers: Array<{ status: number; body: any }> = [];
    for (let i = 0; i < 3; i++) {
      for (const which of ['known', 'unknown'] as const) {
        const t0 = performance.now();
        const res = await start(gw, which === 'known' ? known : uniqueEmail('rec-nobody'));
        times[which].push(performance.now() - t0);
        answers.push(res);
      }
    }
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(Object.keys(a.body)).toEqual(['flow']);
      expect(a.body.flow.length).toBe(answers[0]!.body.flow.length);
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
    console.log(`recovery start median ms: known ${median(times.known).toFixed(1)}, unknown ${median(times.unknown).toFixed(1)}`);
    // Kratos alone differs by tens of ms; the gateway holds both answers to the same floor.
    expect(median(times.known)).toBeGreaterThanOrEqual(400);
    expect(median(times.unknown)).toBeGreaterThanOrEqual(400);
    expect(Math.abs(median(times.known) - median(times.unknown))).toBeLessThan(50);
    // Only the known address got a code.
    expect(await code(kratos, known)).toMatch(/^\d{6}$/);
  });

  it('refuses a malformed email before calling Kratos', async () => {
    const res = await start(gw, 'not-an-email');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].pointer).toBe('/email');
  });
});

describe('complete recovery', () => {
  it('token mode: signed in with the new password; the old one fails; other sessions are revoked (Kratos after-hook)', async () => {
    const email = uniqueEmail('rec-token');
    const signUpToken = await signUp(gw, email);
    const other = (await logIn(gw, email, PASSWORD)).body.session_token as string;
    const { body } = await start(gw, email);
    const res = await complete(gw, { flow: body.flow, code: await code(kratos, email), password: NEW_PASSWORD });
    expect(res.status).toBe(200);
    expect(res.body.session.identity.traits.email).toBe(email);
    const token = res.body.session_token as string;
    expect((await whoami(kratos.publicUrl, token)).status).toBe(200);
    expect((await whoami(kratos.publicUrl, signUpToken)).status).toBe(401);
    expect((await whoami(kratos.publicUrl, other)).status).toBe(401);
    expect((await logIn(gw, email, NEW_PASSWORD)).status).toBe(200);
    expect((await logIn(gw, email, PASSWORD)).body.code).toBe('INVALID_CREDENTIALS');
  });

  it('without that after-hook (main Kratos) the other sessions stay', async () => {
    const email = uniqueEmail('rec-keep');
    const signUpToken = await signUp(mainGw, email);
    const { body } = await start(mainGw, email);
    const res = await complete(mainGw, { flow: body.flow, code: await code(inject_main(mainGw), email), password: NEW_PASSWORD });
    expect(res.status).toBe(200);
    expect((await whoami(mainGw.kratos.publicUrl, signUpToken)).status).toBe(200);
  });

  it('cookie mode: the gateway cookie signs the client in; no Kratos cookie reaches it', async () => {
    const email = uniqueEmail('rec-cookie');
    await signUp(gw, email);
    const { body } = await start(gw, email);
    const res = await complete(gw, { flow: body.flow, code: await code(kratos, email), password: NEW_PASSWORD }, { 'x-session-delivery': 'cookie' });
    expect(res.status).toBe(200);
    expect(res.body.session_token).toBeUndefined();
    const cookies = res.headers.getSetCookie();
    expect(cookies.length).toBe(1);
    const cookie = cookies[0]!.split(';')[0]!;
    expect(cookie.startsWith('kbff_session=')).toBe(true);
    const me = await fetch(`${gw.url}/v1/session`, { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as any).session.identity.traits.email).toBe(email);
  });

  it('a weak password gives /password; a retry with the same flow and code works without a new email', async () => {
    const email = uniqueEmail('rec-weak');
    await signUp(gw, email);
    const { body } = await start(gw, email);
    const c = await code(kratos, email);
    const weak = await complete(gw, { flow: body.flow, code: c, password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.body.errors.map((e: any) => e.pointer)).toEqual(['/password']);
    const similar = await complete(gw, { flow: body.flow, code: c, password: email });
    expect(similar.status).toBe(400);
    expect(similar.body.errors[0].pointer).toBe('/password');
    // The handle alone is not enough: another code does not unlock the kept session.
    const otherCode = c === '000000' ? '111111' : '000000';
    expect((await complete(gw, { flow: body.flow, code: otherCode, password: NEW_PASSWORD })).body.errors?.[0]?.pointer).toBe('/code');
    const retry = await complete(gw, { flow: body.flow, code: c, password: NEW_PASSWORD });
    expect(retry.status).toBe(200);
    expect((await logIn(gw, email, NEW_PASSWORD)).status).toBe(200);
    const mails = await fetch(`${kratos.adminUrl}/admin/courier/messages?recipient=${encodeURIComponent(email)}`).then((r) => r.json() as Promise<unknown[]>);
    expect((mails as Array<{ template_type: string }>).filter((m) => m.template_type.startsWith('recovery')).length).toBe(1);
  });

  it('a wrong code is a field error at /code; the right one still works after it', async () => {
    const email = uniqueEmail('rec-wrong');
    await signUp(gw, email);
    const { body } = await start(gw, email);
    const c = await code(kratos, email);
    const wrong = await complete(gw, { flow: body.flow, code: c === '123456' ? '654321' : '123456', password: NEW_PASSWORD });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors).toEqual([expect.objectContaining({ pointer: '/code', code: 'CODE_INVALID' })]);
    expect((await complete(gw, { flow: body.flow, code: c, password: NEW_PASSWORD })).status).toBe(200);
  });

  it('the 6th code tried on a flow is RECOVERY_ATTEMPTS_EXCEEDED, even the right one', async () => {
    const email = uniqueEmail('rec-six');
    await signUp(gw, email);
    const { body } = await start(gw, email);
    const c = await code(kratos, email);
    const wrongCode = c === '123456' ? '654321' : '123456';
    for (let i = 0; i < 5; i++) expect((await complete(gw, { flow: body.flow, code: wrongCode, password: NEW_PASSWORD })).body.errors[0].pointer).toBe('/code');
    const sixth = await complete(gw, { flow: body.flow, code: c, password: NEW_PASSWORD });
    expect(sixth.status).toBe(410);
    expect(sixth.body.code).toBe('RECOVERY_ATTEMPTS_EXCEEDED');
  });

  it('a used code, a forged handle and a malformed code are refused; a malformed body never reaches Kratos', async () => {
    const email = uniqueEmail('rec-misc');
    await signUp(gw, email);
    const forged = await complete(gw, { flow: 'x'.repeat(60), code: '123456', password: NEW_PASSWORD });
    expect(forged.status).toBe(410);
    expect(forged.body.code).toBe('RECOVERY_EXPIRED');
    const { body } = await start(gw, email);
    const badCode = await complete(gw, { flow: body.flow, code: '12ab', password: NEW_PASSWORD });
    expect(badCode.status).toBe(400);
    expect(badCode.body.errors[0].pointer).toBe('/code');
    const noPassword = await complete(gw, { flow: body.flow, code: '123456' });
    expect(noPassword.body.errors[0].pointer).toBe('/password');
    // Neither burnt an attempt: the right code still works.
    expect((await complete(gw, { flow: body.flow, code: await code(kratos, email), password: NEW_PASSWORD })).status).toBe(200);
  });
});

function inject_main(g: TestGateway) {
  return g.kratos;
}
