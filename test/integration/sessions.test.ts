import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config.ts';
import type { HttpRequest } from '../../src/shared/http.ts';
import { identitiesByEmail, postJson, startTestGateway, uniqueEmail, whoami, type TestGateway } from '../support/gateway.ts';

const PASSWORD = 'correct-horse-battery-staple';
const OLD_SECRET = 'old-session-secret-0123456789abcdefghij';
const NEW_SECRET = 'new-session-secret-9876543210zyxwvutsrq';
const APP = 'https://app.example.com';

const afterJobs = {
  selfservice: {
    registration: { after: { password: [{ job: 'session' }, { job: 'redirect', config: { redirect_to: `${APP}/welcome`, allow_user_defined: true } }] } },
    login: {
      after: { password: [{ job: 'session' }, { job: 'revoke_active_sessions' }, { job: 'redirect', config: { redirect_to: `${APP}/home`, allow_user_defined: true } }] },
    },
  },
  return_to: { allowed_urls: [`${APP}/`, 'https://*.example.org/app'], native_urls: ['myapp://auth'] },
  cors: { allowed_origins: [APP] },
} satisfies Partial<ConfigInput>;

function cookieGateway(secrets: string[], extra: Partial<ConfigInput> = {}) {
  return startTestGateway({
    config: {
      ...afterJobs,
      secrets: { session: secrets },
      session: { delivery: 'cookie', client_choice: true, cookie: { secure: false } },
      ...extra,
    },
  });
}

/** `name=value` of the gateway cookie from a response, or undefined. */
function sessionCookie(res: { headers: Headers }): { pair: string; attributes: string } | undefined {
  const line = res.headers.getSetCookie().find((c) => c.startsWith('kbff_session='));
  if (!line) return undefined;
  const [pair, ...attrs] = line.split(';');
  return { pair: pair!, attributes: attrs.join(';') };
}

async function adminSession(adminUrl: string, id: string): Promise<{ active: boolean }> {
  const res = await fetch(`${adminUrl}/admin/sessions/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as { active: boolean };
}

const calls: HttpRequest[] = [];
let token: TestGateway;
let cookie: TestGateway;
beforeAll(async () => {
  token = await startTestGateway({
    config: { ...afterJobs, secrets: { session: [OLD_SECRET] }, session: { client_choice: true } },
    wrapTransport: (t) => async (req) => {
      calls.push(req);
      return t(req);
    },
  });
  cookie = await cookieGateway([OLD_SECRET]);
});
afterAll(async () => {
  await Promise.all([token?.close(), cookie?.close()]);
});

const signUp = (gw: TestGateway, email: string, headers: Record<string, string> = {}, query = '') =>
  postJson(`${gw.url}/v1/registration${query}`, { traits: { email }, password: PASSWORD }, headers);
const logIn = (gw: TestGateway, email: string, headers: Record<string, string> = {}, password = PASSWORD) =>
  postJson(`${gw.url}/v1/login`, { identifier: email, password }, headers);

describe('token delivery', () => {
  it('sign-up and login return tokens that Kratos accepts on whoami, and GET /v1/session works with them', async () => {
    const email = uniqueEmail('tok');
    const check = async (t: string) => {
      expect((await whoami(token.kratos.publicUrl, t)).status).toBe(200);
      const me = await fetch(`${token.url}/v1/session`, { headers: { authorization: `Bearer ${t}` } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as any).session.identity.traits.email).toBe(email);
    };
    const reg = await signUp(token, email);
    expect(reg.status).toBe(200);
    expect(sessionCookie(reg)).toBeUndefined();
    await check(reg.body.session_token);
    const login = await logIn(token, email);
    expect(login.status).toBe(200);
    await check(login.body.session_token);
    // This login config has revoke_active_sessions: the sign-up session is gone now.
    expect((await whoami(token.kratos.publicUrl, reg.body.session_token)).status).toBe(401);
  });

  it('signs out a token client with DELETE /v1/session; Kratos then reports the session inactive', async () => {
    const reg = await signUp(token, uniqueEmail('toklogout'));
    const res = await fetch(`${token.url}/v1/session`, { method: 'DELETE', headers: { 'x-session-token': reg.body.session_token } });
    expect(res.status).toBe(204);
    expect((await adminSession(token.kratos.adminUrl, reg.body.session.id)).active).toBe(false);
    expect((await whoami(token.kratos.publicUrl, reg.body.session_token)).status).toBe(401);
  });

  it('treats a wrong password and an unknown identifier alike', async () => {
    const email = uniqueEmail('creds');
    await signUp(token, email);
    const wrong = await logIn(token, email, {}, 'wrong-password-123');
    const unknown = await logIn(token, uniqueEmail('nobody'), {}, 'wrong-password-123');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const strip = ({ request_id: _r, ...rest }: any) => rest;
    expect(strip(wrong.body)).toEqual(strip(unknown.body));
    expect(wrong.body.code).toBe('INVALID_CREDENTIALS');
  });

  it('refuses login by a signed-in user', async () => {
    const email = uniqueEmail('twice');
    const reg = await signUp(token, email);
    const res = await logIn(token, email, { authorization: `Bearer ${reg.body.session_token}` });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('SESSION_ALREADY_AVAILABLE');
  });

  it('revoke_active_sessions: after a second login the first session is inactive in Kratos', async () => {
    const email = uniqueEmail('revoke');
    const reg = await signUp(token, email);
    const first = await logIn(token, email);
    const second = await logIn(token, email);
    expect(second.status).toBe(200);
    expect((await adminSession(token.kratos.adminUrl, first.body.session.id)).active).toBe(false);
    expect((await adminSession(token.kratos.adminUrl, reg.body.session.id)).active).toBe(false);
    expect((await adminSession(token.kratos.adminUrl, second.body.session.id)).active).toBe(true);
  });
});

describe('cookie delivery', () => {
  it('sets an HttpOnly cookie and keeps the token out of the body; whoami and logout work with the cookie', async () => {
    const email = uniqueEmail('cookie');
    const reg = await signUp(cookie, email);
    expect(reg.status).toBe(200);
    const jar = sessionCookie(reg)!;
    expect(jar).toBeDefined();
    expect(jar.attributes).toMatch(/HttpOnly/);
    expect(jar.attributes).toMatch(/SameSite=Lax/);
    expect(jar.attributes).toMatch(/Path=\//);
    expect(jar.attributes).toMatch(/Expires=/);
    expect(reg.body).not.toHaveProperty('session_token');
    expect(JSON.stringify(reg.body)).not.toMatch(/ory_st_/);
    expect(jar.pair).not.toMatch(/ory_st_/);

    const me = await fetch(`${cookie.url}/v1/session`, { headers: { cookie: jar.pair } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as any).session.identity.traits.email).toBe(email);

    const out = await fetch(`${cookie.url}/v1/session`, { method: 'DELETE', headers: { cookie: jar.pair, origin: APP } });
    expect(out.status).toBe(204);
    expect(sessionCookie(out)?.attributes).toMatch(/Max-Age=0/);
    expect((await adminSession(cookie.kratos.adminUrl, reg.body.session.id)).active).toBe(false);
    expect((await fetch(`${cookie.url}/v1/session`, { headers: { cookie: jar.pair } })).status).toBe(401);
  });

  it('honours X-Session-Delivery per request when the config allows it', async () => {
    const res = await signUp(token, uniqueEmail('choice'), { 'x-session-delivery': 'cookie' });
    expect(res.status).toBe(200);
    expect(sessionCookie(res)).toBeDefined();
    expect(res.body).not.toHaveProperty('session_token');
  });

  it('rotates secrets: the old first secret still opens after a new one is put first, and fails once removed; tampering fails', async () => {
    const reg = await signUp(cookie, uniqueEmail('rotate'));
    const jar = sessionCookie(reg)!;
    const rotated = await cookieGateway([NEW_SECRET, OLD_SECRET]);
    const removed = await cookieGateway([NEW_SECRET]);
    try {
      expect((await fetch(`${rotated.url}/v1/session`, { headers: { cookie: jar.pair } })).status).toBe(200);
      // New cookies are sealed with the new first secret: the old-only gateway cannot open them.
      const fresh = sessionCookie(await logIn(rotated, reg.body.identity.traits.email))!;
      expect((await fetch(`${cookie.url}/v1/session`, { headers: { cookie: fresh.pair } })).status).toBe(401);
      expect((await fetch(`${rotated.url}/v1/session`, { headers: { cookie: fresh.pair } })).status).toBe(200);

      expect((await fetch(`${removed.url}/v1/session`, { headers: { cookie: jar.pair } })).status).toBe(401);
      const value = fresh.pair.slice('kbff_session='.length);
      const tampered = value.slice(0, -3) + (value.endsWith('AAA') ? 'BBB' : 'AAA');
      expect((await fetch(`${rotated.url}/v1/session`, { headers: { cookie: `kbff_session=${tampered}` } })).status).toBe(401);
    } finally {
      await Promise.all([rotated.close(), removed.close()]);
    }
  });

  it('answers a plain HTML form post with a cookie and 303 See Other', async () => {
    const email = uniqueEmail('form');
    const res = await fetch(`${cookie.url}/v1/registration?return_to=${encodeURIComponent(`${APP}/after-form`)}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: APP },
      body: new URLSearchParams({ 'traits.email': email, password: PASSWORD }).toString(),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${APP}/after-form`);
    expect(sessionCookie(res)).toBeDefined();
    expect(await identitiesByEmail(cookie.kratos.adminUrl, email)).toHaveLength(1);
  });
});

describe('CSRF', () => {
  it('refuses a cookie-authenticated request from a foreign origin, and one that proves no origin', async () => {
    const reg = await signUp(cookie, uniqueEmail('csrf'));
    const jar = sessionCookie(reg)!;
    const foreign = await fetch(`${cookie.url}/v1/session`, { method: 'DELETE', headers: { cookie: jar.pair, origin: 'https://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as any).code).toBe('ORIGIN_NOT_ALLOWED');
    const crossSite = await fetch(`${cookie.url}/v1/session`, { method: 'DELETE', headers: { cookie: jar.pair, 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.status).toBe(403);
    const anonymous = await fetch(`${cookie.url}/v1/session`, { method: 'DELETE', headers: { cookie: jar.pair } });
    expect(anonymous.status).toBe(403);
    // The session survived all three.
    expect((await adminSession(cookie.kratos.adminUrl, reg.body.session.id)).active).toBe(true);
  });

  it('refuses a JSON login posted from a foreign page (login CSRF) before calling Kratos', async () => {
    const before = calls.length;
    const res = await logIn(token, uniqueEmail('logincsrf'), { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(calls.length).toBe(before);
  });

  it('allows CORS with credentials for listed origins only', async () => {
    const ok = await fetch(`${cookie.url}/v1/session`, { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'DELETE' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    const evil = await fetch(`${cookie.url}/v1/session`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' } });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('redirect after-job', () => {
  it('returns the default redirect_to, or an allowed return_to re-serialised', async () => {
    const plain = await signUp(token, uniqueEmail('redir'));
    expect(plain.body.redirect_to).toBe(`${APP}/welcome`);
    const asked = await signUp(token, uniqueEmail('redir'), {}, `?return_to=${encodeURIComponent('HTTPS://App.Example.com:443/dash/./x?tab=1#top')}`);
    expect(asked.status).toBe(200);
    expect(asked.body.redirect_to).toBe(`${APP}/dash/x?tab=1#top`);
    const sub = await signUp(token, uniqueEmail('redir'), {}, `?return_to=${encodeURIComponent('https://eu.example.org/app/settings')}`);
    expect(sub.body.redirect_to).toBe('https://eu.example.org/app/settings');
    const native = await signUp(token, uniqueEmail('redir'), {}, `?return_to=${encodeURIComponent('myapp://auth/done')}`);
    expect(native.body.redirect_to).toBe('myapp://auth/done');
    const login = await logIn(token, plain.body.identity.traits.email);
    expect(login.body.redirect_to).toBe(`${APP}/home`);
  });

  const hostile: string[] = [
    '//evil.com',
    '///evil.com',
    '/\\evil.com',
    '\\\\evil.com',
    'https:evil.com',
    'https://evil.com',
    'https://app.example.com.evil.com/',
    'https://app.example.comevil.com/',
    'https://evilapp.example.com/',
    'https://example.org/app',
    'https://eu.example.org/apple',
    'https://eu.example.org/app/../admin',
    'https://eu.example.org/app/%2e%2e/admin',
    'https://eu.example.org/app/%2E%2E%2Fadmin',
    'https://eu.example.org/app%2f..%2fadmin',
    'https://app.example.com@evil.com/',
    'https://user:pass@app.example.com/',
    'https://app.example.com:8443/',
    'http://app.example.com/',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox(1)',
    'file:///etc/passwd',
    'ftp://app.example.com/',
    'https://app.example.com\\@evil.com/',
    'https://app.example.com/\tx',
    'https://app.example.com/\nx',
    ' https://app.example.com/',
    'https://app.example.com/\u0000',
    'https://app%2eexample.com/',
    'https://аpp.example.com/',
    'https://127.0.0.1/',
    'https://[::1]/',
    '/..//evil.com',
    '/%2F%2Fevil.com',
    'myapp://evil/done',
    'otherapp://auth',
    'https://app.example.com/' + 'a'.repeat(3000),
  ];

  it(`refuses ${hostile.length} hostile return_to values before calling Kratos, and creates no identity`, async () => {
    expect(hostile.length).toBeGreaterThanOrEqual(30);
    const before = calls.length;
    const emails: string[] = [];
    for (const value of hostile) {
      const email = uniqueEmail('hostile');
      emails.push(email);
      const res = await signUp(token, email, {}, `?return_to=${encodeURIComponent(value)}`);
      expect(res.status, value).toBe(400);
      expect(res.body.code, value).toBe('RETURN_TO_NOT_ALLOWED');
    }
    // Repeated parameters are refused too.
    const twice = await signUp(token, uniqueEmail('hostile'), {}, `?return_to=${encodeURIComponent(`${APP}/a`)}&return_to=${encodeURIComponent('https://evil.com')}`);
    expect(twice.status).toBe(400);
    expect(calls.length).toBe(before);
    for (const email of emails) expect(await identitiesByEmail(token.kratos.adminUrl, email)).toEqual([]);
  });
});
