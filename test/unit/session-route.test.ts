import { describe, expect, it } from 'vitest';
import { appWithFakeKratos, json } from '../support/app.ts';
import { fixture, type FakeKratos } from '../support/fake-kratos.ts';

/** GET and DELETE /v1/session on the fake Kratos, which answers with the real Kratos's recorded answers. */

const APP = 'https://app.example.com';
const SECRET = 'unit-test-session-secret-0123456789abcdef';

const calls = (fake: FakeKratos) => fake.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`);

function setCookieLine(res: Response): string | undefined {
  return res.headers.getSetCookie().find((c) => c.startsWith('kbff_session='));
}

/** A cookie-delivery gateway and a client signed in through POST /v1/login, holding the cookie. */
async function signedInWithCookie() {
  const gw = appWithFakeKratos({
    secrets: { session: [SECRET] },
    session: { delivery: 'cookie', cookie: { secure: false } },
    cors: { allowed_origins: [APP] },
  } as never);
  const login = await gw.app.request('/v1/login', json({ identifier: 'ada@example.com', password: 'correct-horse-battery' }));
  expect(login.status).toBe(200);
  const cookie = setCookieLine(login)!.split(';')[0]!;
  const [issued] = [...gw.fake.sessions.values()];
  gw.fake.requests.length = 0;
  return { ...gw, cookie, issued: issued! };
}

describe('GET /v1/session with a fake Kratos', () => {
  it.each([
    ['Authorization: Bearer', (t: string) => ({ authorization: `Bearer ${t}` })],
    ['X-Session-Token', (t: string) => ({ 'x-session-token': t })],
  ])('answers the session for %s, asking Kratos with a raw X-Session-Token and the request id', async (_name, headers) => {
    const { app, fake } = appWithFakeKratos();
    const issued = fake.issueSession();
    const res = await app.request('/v1/session', { headers: { ...headers(issued.token), 'x-request-id': 'req-whoami-1' } });
    expect(res.status).toBe(200);
    const out = (await res.json()) as any;
    expect(out.session.id).toBe(issued.session.id);
    expect(out.session.identity.id).toBe((fixture('whoami') as any).identity.id);
    expect(calls(fake)).toEqual(['GET /sessions/whoami']);
    const sent = fake.requests[0]!;
    expect(sent.headers['x-session-token']).toBe(issued.token);
    expect(sent.headers['x-request-id']).toBe('req-whoami-1');
    expect(sent.headers).not.toHaveProperty('authorization');
  });

  it('answers the session for the gateway cookie, and never forwards the Cookie header', async () => {
    const { app, fake, cookie, issued } = await signedInWithCookie();
    const res = await app.request('/v1/session', { headers: { cookie: `${cookie}; other=1` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).session.id).toBe(issued.session.id);
    expect(fake.requests[0]!.headers['x-session-token']).toBe(issued.token);
    expect(fake.requests[0]!.headers).not.toHaveProperty('cookie');
  });

  it('answers 401 UNAUTHENTICATED for an unknown, a revoked and an expired token (Kratos says 401 for each)', async () => {
    const { app, fake } = appWithFakeKratos();
    const revoked = fake.issueSession();
    revoked.active = false;
    const expired = fake.issueSession();
    expired.session.expires_at = new Date(Date.now() - 1000).toISOString();
    for (const token of ['ory_st_unknown', revoked.token, expired.token]) {
      const res = await app.request('/v1/session', { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, token).toBe(401);
      const problem = (await res.json()) as any;
      expect(problem.code).toBe('UNAUTHENTICATED');
      expect(JSON.stringify(problem)).not.toMatch(/ory_st_|credentials found/);
    }
    expect(calls(fake)).toEqual(['GET /sessions/whoami', 'GET /sessions/whoami', 'GET /sessions/whoami']);
  });

  it('answers 401 without calling Kratos when nothing was sent, and 400 for a malformed token', async () => {
    const { app, fake } = appWithFakeKratos();
    const none = await app.request('/v1/session');
    expect(none.status).toBe(401);
    expect(((await none.json()) as any).code).toBe('UNAUTHENTICATED');
    const bad = await app.request('/v1/session', { headers: { authorization: 'Bearer two tokens' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).code).toBe('INVALID_AUTHORIZATION');
    expect(fake.requests).toEqual([]);
  });

  it('clears a cookie that no longer opens, without calling Kratos', async () => {
    const { app, fake, cookie } = await signedInWithCookie();
    const value = cookie.slice('kbff_session='.length);
    const tampered = `kbff_session=${value.slice(0, -3)}${value.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    const res = await app.request('/v1/session', { headers: { cookie: tampered } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).code).toBe('UNAUTHENTICATED');
    expect(setCookieLine(res)).toMatch(/Max-Age=0/);
    expect(fake.requests).toEqual([]);
  });

  it('clears a cookie whose Kratos session has ended', async () => {
    const { app, fake, cookie, issued } = await signedInWithCookie();
    issued.active = false;
    const res = await app.request('/v1/session', { headers: { cookie } });
    expect(res.status).toBe(401);
    expect(setCookieLine(res)).toMatch(/Max-Age=0/);
    expect(calls(fake)).toEqual(['GET /sessions/whoami']);
  });

  it('does not clear anything for a header token Kratos refuses', async () => {
    const { app } = appWithFakeKratos();
    const res = await app.request('/v1/session', { headers: { 'x-session-token': 'ory_st_unknown' } });
    expect(res.status).toBe(401);
    expect(setCookieLine(res)).toBeUndefined();
  });

  it('answers 503 KRATOS_UNAVAILABLE with Retry-After when Kratos does not answer', async () => {
    const { app, fake } = appWithFakeKratos();
    const issued = fake.issueSession();
    fake.whoamiAnswers.push('network-error');
    const res = await app.request('/v1/session', { headers: { authorization: `Bearer ${issued.token}` } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as any).code).toBe('KRATOS_UNAVAILABLE');
  });
});

describe('DELETE /v1/session with a fake Kratos', () => {
  it('signs a token client out: 204, Kratos logout with the token in the body, then the token gets 401', async () => {
    const { app, fake } = appWithFakeKratos();
    const issued = fake.issueSession();
    const res = await app.request('/v1/session', { method: 'DELETE', headers: { 'x-session-token': issued.token, 'x-request-id': 'req-logout-1' } });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect(calls(fake)).toEqual(['DELETE /self-service/logout/api']);
    const sent = fake.requests[0]!;
    expect(sent.body).toEqual({ session_token: issued.token });
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.headers['x-request-id']).toBe('req-logout-1');
    expect(issued.active).toBe(false);
    const after = await app.request('/v1/session', { headers: { authorization: `Bearer ${issued.token}` } });
    expect(after.status).toBe(401);
  });

  it('answers 204 again for an already revoked session (Kratos 204) and for one Kratos does not know (Kratos 403)', async () => {
    const { app, fake } = appWithFakeKratos();
    const issued = fake.issueSession();
    for (const token of [issued.token, issued.token, 'ory_st_unknown']) {
      const res = await app.request('/v1/session', { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      expect(res.status, token).toBe(204);
    }
    expect(calls(fake)).toEqual(['DELETE /self-service/logout/api', 'DELETE /self-service/logout/api', 'DELETE /self-service/logout/api']);
  });

  it('signs a cookie client out: 204, the cookie is cleared, the session ends in Kratos and the cookie no longer works', async () => {
    const { app, fake, cookie, issued } = await signedInWithCookie();
    const res = await app.request('/v1/session', { method: 'DELETE', headers: { cookie, origin: APP } });
    expect(res.status).toBe(204);
    expect(setCookieLine(res)).toMatch(/Max-Age=0/);
    expect(fake.requests[0]!.body).toEqual({ session_token: issued.token });
    expect(fake.requests[0]!.headers).not.toHaveProperty('cookie');
    expect(fake.requests[0]!.headers).not.toHaveProperty('origin');
    expect(issued.active).toBe(false);
    const after = await app.request('/v1/session', { headers: { cookie } });
    expect(after.status).toBe(401);
    expect(setCookieLine(after)).toMatch(/Max-Age=0/);
  });

  it('refuses a cookie sign-out that proves no trusted origin, and the session survives', async () => {
    const { app, fake, cookie, issued } = await signedInWithCookie();
    const res = await app.request('/v1/session', { method: 'DELETE', headers: { cookie } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).code).toBe('ORIGIN_NOT_ALLOWED');
    expect(fake.requests).toEqual([]);
    expect(issued.active).toBe(true);
  });

  it('clears a cookie that no longer opens with 204 and no Kratos call; no credentials at all is 401', async () => {
    const { app, fake } = await signedInWithCookie();
    const stale = await app.request('/v1/session', { method: 'DELETE', headers: { cookie: 'kbff_session=not-a-sealed-value', origin: APP } });
    expect(stale.status).toBe(204);
    expect(setCookieLine(stale)).toMatch(/Max-Age=0/);
    const none = await app.request('/v1/session', { method: 'DELETE' });
    expect(none.status).toBe(401);
    expect(((await none.json()) as any).code).toBe('UNAUTHENTICATED');
    expect(fake.requests).toEqual([]);
  });

  it('answers 503 KRATOS_UNAVAILABLE when Kratos does not answer, and keeps the session', async () => {
    const { app, fake } = appWithFakeKratos();
    const issued = fake.issueSession();
    fake.logoutAnswers.push('network-error');
    const res = await app.request('/v1/session', { method: 'DELETE', headers: { 'x-session-token': issued.token } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as any).code).toBe('KRATOS_UNAVAILABLE');
    expect(issued.active).toBe(true);
  });
});
