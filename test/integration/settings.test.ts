import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKratos, type KratosInstance } from '../../scripts/kratos.ts';
import type { ConfigInput } from '../../src/config.ts';
import { identitiesByEmail, postJson, registerSecret, startTestGateway, uniqueEmail, whoami, type TestGateway } from '../support/gateway.ts';

/**
 * Settings (password, profile) and re-authentication against the real Kratos: the suite's main
 * Kratos (privileged_session_max_age 15m) and one of this file whose privileged age is 2s.
 */

const PASSWORD = 'correct-horse-battery-staple';
const NEW_PASSWORD = 'a-brand-new-passphrase-42';
const NEWER_PASSWORD = 'yet-another-passphrase-77';
registerSecret(NEW_PASSWORD, NEWER_PASSWORD);
const PRIVILEGED_MS = 2000;

const APP = 'https://app.example.com';
const base = {
  cors: { allowed_origins: [APP] },
  secrets: { session: ['settings-session-secret-0123456789abcdef'] },
  session: { client_choice: true, cookie: { secure: false } },
} satisfies Partial<ConfigInput>;

let main: TestGateway;
let shortKratos: KratosInstance;
let short: TestGateway;
beforeAll(async () => {
  shortKratos = await startKratos({ env: { SELFSERVICE_FLOWS_SETTINGS_PRIVILEGED_SESSION_MAX_AGE: `${PRIVILEGED_MS / 1000}s` }, log: () => {} });
  main = await startTestGateway({ config: base });
  short = await startTestGateway({ config: { ...base, kratos: { public_url: shortKratos.publicUrl, admin_url: shortKratos.adminUrl } } });
}, 60_000);
afterAll(async () => {
  await Promise.all([main?.close(), short?.close()]);
  await shortKratos?.stop();
});

async function send(gw: TestGateway, method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  // Cookie requests come from the app's origin (the origin guard refuses cross-site ones).
  const origin = headers.cookie ? { origin: APP } : {};
  const res = await fetch(`${gw.url}${path}`, { method, headers: { 'content-type': 'application/json', ...origin, ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const signUp = async (gw: TestGateway, email: string, traits: Record<string, unknown> = {}) => {
  const res = await postJson(`${gw.url}/v1/registration`, { traits: { email, ...traits }, password: PASSWORD }, { 'x-session-delivery': 'token' });
  expect(res.status).toBe(200);
  return res.body.session_token as string;
};
const signUpWithCookie = async (gw: TestGateway, email: string) => {
  const res = await postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD }, { 'x-session-delivery': 'cookie' });
  expect(res.status).toBe(200);
  const line = res.headers.getSetCookie().find((c) => c.startsWith('kbff_session='));
  expect(line).toBeDefined();
  return line!.split(';')[0]!;
};
const logIn = (gw: TestGateway, email: string, password: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) =>
  postJson(`${gw.url}/v1/login`, { identifier: email, password, ...extra }, headers);

describe('change password', () => {
  it('with a bearer token: the new password works, the old one does not', async () => {
    const email = uniqueEmail('pw-bearer');
    const token = await signUp(main, email);
    const res = await send(main, 'POST', '/v1/settings/password', { password: NEW_PASSWORD }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.body.identity.traits.email).toBe(email);
    expect(res.body.identity.credentials).toBeUndefined();
    expect((await logIn(main, email, NEW_PASSWORD)).status).toBe(200);
    expect((await logIn(main, email, PASSWORD)).body.code).toBe('INVALID_CREDENTIALS');
  });

  it('with the gateway cookie', async () => {
    const email = uniqueEmail('pw-cookie');
    const cookie = await signUpWithCookie(main, email);
    const res = await send(main, 'POST', '/v1/settings/password', { password: NEW_PASSWORD }, { cookie });
    expect(res.status).toBe(200);
    // Kratos's own continuity or session cookies never reach the client.
    expect(res.headers.getSetCookie()).toEqual([]);
    expect((await logIn(main, email, NEW_PASSWORD)).status).toBe(200);
  });

  it('a weak password is a field error at /password; a bad body never reaches Kratos; no session is 401', async () => {
    const token = await signUp(main, uniqueEmail('pw-weak'));
    const weak = await send(main, 'POST', '/v1/settings/password', { password: 'short' }, { 'x-session-token': token });
    expect(weak.status).toBe(400);
    expect(weak.body.code).toBe('VALIDATION_FAILED');
    expect(weak.body.errors[0].pointer).toBe('/password');
    const unknown = await send(main, 'POST', '/v1/settings/password', { password: NEW_PASSWORD, extra: 1 }, { 'x-session-token': token });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors.map((e: any) => e.code)).toContain('UNKNOWN_FIELD');
    const none = await send(main, 'POST', '/v1/settings/password', { password: NEW_PASSWORD });
    expect(none.status).toBe(401);
    expect(none.body.code).toBe('UNAUTHENTICATED');
    const revoked = await send(main, 'POST', '/v1/settings/password', { password: NEW_PASSWORD }, { 'x-session-token': 'ory_st_notarealtoken' });
    expect(revoked.status).toBe(401);
  });
});

describe('update profile', () => {
  it('merges: named traits change, the others stay, null deletes (bearer)', async () => {
    const email = uniqueEmail('profile');
    const token = await signUp(main, email, { name: { first: 'Ada', last: 'Lovelace' }, company: 'Analytical Engines', newsletter: true });
    const res = await send(main, 'PATCH', '/v1/settings/profile', { traits: { name: { first: 'Augusta' }, company: null } }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.body.identity.traits).toEqual({ email, name: { first: 'Augusta', last: 'Lovelace' }, newsletter: true });
    const [stored] = await identitiesByEmail(main.kratos.adminUrl, email);
    expect(stored!.traits).toEqual({ email, name: { first: 'Augusta', last: 'Lovelace' }, newsletter: true });
  });

  it('works with the cookie; schema errors come back at /traits/...', async () => {
    const email = uniqueEmail('profile-cookie');
    const cookie = await signUpWithCookie(main, email);
    const ok = await send(main, 'PATCH', '/v1/settings/profile', { traits: { newsletter: false } }, { cookie });
    expect(ok.status).toBe(200);
    // (Kratos itself adds an empty `name` object to traits that lack it.)
    expect(ok.body.identity.traits).toMatchObject({ email, newsletter: false });
    const bad = await send(main, 'PATCH', '/v1/settings/profile', { traits: { company: 'x'.repeat(201), email: 'not-an-email' } }, { cookie });
    expect(bad.status).toBe(400);
    const pointers = bad.body.errors.map((e: any) => e.pointer).sort();
    expect(pointers).toEqual(['/traits/company', '/traits/email']);
    expect(JSON.stringify(bad.body)).not.toContain('not-an-email');
    const gone = await send(main, 'PATCH', '/v1/settings/profile', { traits: { email: null } }, { cookie });
    expect(gone.status).toBe(400);
    expect(gone.body.errors.map((e: any) => e.pointer)).toContain('/traits/email');
  });
});

describe('re-authentication', () => {
  it('an old session gets REAUTHENTICATION_REQUIRED; after refresh login the same change succeeds with the same session', async () => {
    const email = uniqueEmail('reauth');
    const token = await signUp(short, email);
    await new Promise((r) => setTimeout(r, PRIVILEGED_MS + 500));
    const old = await send(short, 'POST', '/v1/settings/password', { password: NEW_PASSWORD }, { 'x-session-token': token });
    expect(old.status).toBe(403);
    expect(old.body.code).toBe('REAUTHENTICATION_REQUIRED');
    // A profile change of the email (an identifier) needs the same; a name change does not.
    const emailChange = await send(short, 'PATCH', '/v1/settings/profile', { traits: { email: uniqueEmail('reauth-new') } }, { 'x-session-token': token });
    expect(emailChange.status).toBe(403);
    expect(emailChange.body.code).toBe('REAUTHENTICATION_REQUIRED');
    expect(emailChange.headers.getSetCookie()).toEqual([]);
    const nameChange = await send(short, 'PATCH', '/v1/settings/profile', { traits: { company: 'Still fine' } }, { 'x-session-token': token });
    expect(nameChange.status).toBe(200);

    const withoutRefresh = await logIn(short, email, PASSWORD, { 'x-session-token': token });
    expect(withoutRefresh.body.code).toBe('SESSION_ALREADY_AVAILABLE');
    const refreshed = await logIn(short, email, PASSWORD, { 'x-session-token': token, 'x-session-delivery': 'token' }, { refresh: true });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.session_token).toBe(token);
    const again = await send(short, 'POST', '/v1/settings/password', { password: NEW_PASSWORD }, { 'x-session-token': token });
    expect(again.status).toBe(200);
    expect((await logIn(short, email, NEW_PASSWORD)).status).toBe(200);
  });

  it('refresh with the cookie keeps cookie delivery', async () => {
    const email = uniqueEmail('reauth-cookie');
    const cookie = await signUpWithCookie(short, email);
    await new Promise((r) => setTimeout(r, PRIVILEGED_MS + 500));
    expect((await send(short, 'POST', '/v1/settings/password', { password: NEW_PASSWORD }, { cookie })).body.code).toBe('REAUTHENTICATION_REQUIRED');
    const refreshed = await logIn(short, email, PASSWORD, { cookie, origin: APP, 'x-session-delivery': 'cookie' }, { refresh: true });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.session_token).toBeUndefined();
    const newCookie = refreshed.headers.getSetCookie().find((c) => c.startsWith('kbff_session='))!.split(';')[0]!;
    expect((await send(short, 'POST', '/v1/settings/password', { password: NEW_PASSWORD }, { cookie: newCookie })).status).toBe(200);
  });

  it("another identity's password does not refresh the session, and leaves no session for that identity", async () => {
    const mine = uniqueEmail('reauth-me');
    const other = uniqueEmail('reauth-other');
    const token = await signUp(short, mine);
    await signUp(short, other);
    const before = await whoami(shortKratos.publicUrl, token);
    const res = await logIn(short, other, PASSWORD, { 'x-session-token': token }, { refresh: true });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('INVALID_CREDENTIALS');
    const after = await whoami(shortKratos.publicUrl, token);
    expect(after.status).toBe(200);
    expect(after.body.identity.traits.email).toBe(mine);
    expect(after.body.authenticated_at).toBe(before.body.authenticated_at);
    const [otherIdentity] = await identitiesByEmail(shortKratos.adminUrl, other);
    const sessions = (await (await fetch(`${shortKratos.adminUrl}/admin/identities/${otherIdentity!.id}/sessions?active=true`)).json()) as unknown[];
    // Only the sign-up session of the other identity is active.
    expect(sessions.length).toBe(1);
  });

  it('refresh without a session is 401', async () => {
    const email = uniqueEmail('reauth-none');
    await signUp(short, email);
    const res = await logIn(short, email, PASSWORD, {}, { refresh: true });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('UNAUTHENTICATED');
  });
});
