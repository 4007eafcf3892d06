import { describe, expect, it } from 'vitest';
import { appWithFakeKratos, json } from '../support/app.ts';
import { recorded, type FakeKratos } from '../support/fake-kratos.ts';

/** POST /v1/login on the fake Kratos, which answers with the real Kratos's recorded answers. */

const APP = 'https://app.example.com';
const SECRET = 'unit-test-session-secret-0123456789abcdef';
const credentials = { identifier: 'ada@example.com', password: 'correct-horse-battery' };

type Job = { job: 'session' } | { job: 'revoke_active_sessions' } | { job: 'redirect'; config: { redirect_to: string; allow_user_defined: boolean } };

/** A gateway whose login after-jobs are `jobs`, with APP allowed as origin and return_to. */
function withLoginJobs(jobs: Job[], extra: Record<string, unknown> = {}) {
  return appWithFakeKratos({
    selfservice: { login: { after: { password: jobs } } },
    return_to: { allowed_urls: [`${APP}/`] },
    cors: { allowed_origins: [APP] },
    ...extra,
  } as never);
}

const cookieDelivery = { secrets: { session: [SECRET] }, session: { delivery: 'cookie', cookie: { secure: false } } };

/** `METHOD /path` of every call the fake received, without queries. */
const calls = (fake: FakeKratos) => fake.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`);

function sessionCookie(res: Response): string | undefined {
  return res.headers.getSetCookie().find((c) => c.startsWith('kbff_session='));
}

describe('POST /v1/login with a fake Kratos', () => {
  it('creates and submits a native login flow and returns the session and token that whoami then accepts', async () => {
    const { app, fake } = appWithFakeKratos();
    const res = await app.request('/v1/login', json(credentials, { 'x-request-id': 'req-login-1', 'user-agent': 'unit-test' }));
    expect(res.status).toBe(200);
    const out = (await res.json()) as any;
    expect(calls(fake)).toEqual(['GET /self-service/login/api', 'POST /self-service/login']);
    const [issued] = [...fake.sessions.values()];
    expect(out.session_token).toBe(issued!.token);
    expect(out.session.id).toBe(issued!.session.id);
    expect(out.session.identity.traits.email).toBe('fixture@example.com');
    expect(sessionCookie(res)).toBeUndefined();

    const [create, submit] = fake.requests;
    expect(submit!.path).toBe('/self-service/login?flow=00000000-0000-4000-8000-000000000001');
    expect(submit!.body).toEqual({ method: 'password', ...credentials });
    expect(submit!.headers['content-type']).toBe('application/json');
    for (const r of [create!, submit!]) {
      expect(r.headers.accept).toBe('application/json');
      expect(r.headers['x-request-id']).toBe('req-login-1');
      expect(r.headers['user-agent']).toBe('unit-test');
    }

    const me = await app.request('/v1/session', { headers: { authorization: `Bearer ${out.session_token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as any).session.id).toBe(issued!.session.id);
  });

  it('never forwards the browser cookie or Origin, and sends a Bearer token as raw X-Session-Token', async () => {
    const { app, fake } = withLoginJobs([{ job: 'session' }]);
    await app.request('/v1/login', json(credentials, { authorization: 'Bearer ory_st_unknown', cookie: 'other=1', origin: APP }));
    expect(fake.requests.length).toBe(2);
    for (const r of fake.requests) {
      expect(r.headers['x-session-token']).toBe('ory_st_unknown');
      expect(r.headers).not.toHaveProperty('cookie');
      expect(r.headers).not.toHaveProperty('origin');
      expect(r.headers).not.toHaveProperty('authorization');
    }
  });

  it('with cookie delivery sets the sealed HttpOnly cookie and keeps the token out of the body; the cookie opens on GET /v1/session', async () => {
    const { app, fake } = withLoginJobs([{ job: 'session' }], cookieDelivery);
    const res = await app.request('/v1/login', json(credentials));
    expect(res.status).toBe(200);
    const out = (await res.json()) as any;
    const [issued] = [...fake.sessions.values()];
    expect(out).not.toHaveProperty('session_token');
    expect(out.session.id).toBe(issued!.session.id);
    const cookie = sessionCookie(res)!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).not.toContain(issued!.token);
    expect(JSON.stringify(out)).not.toContain('ory_st_');

    const me = await app.request('/v1/session', { headers: { cookie: cookie.split(';')[0]! } });
    expect(me.status).toBe(200);
    const whoami = fake.requests.at(-1)!;
    expect(whoami.path).toBe('/sessions/whoami');
    expect(whoami.headers['x-session-token']).toBe(issued!.token);
    expect(whoami.headers).not.toHaveProperty('cookie');
  });

  it('answers a wrong password and an unknown identifier with the same 401 INVALID_CREDENTIALS, apart from request_id', async () => {
    const { app, fake } = appWithFakeKratos();
    fake.accounts.set(credentials.identifier, credentials.password);
    const wrong = await app.request('/v1/login', json({ ...credentials, password: 'wrong-password-123' }));
    const unknown = await app.request('/v1/login', json({ identifier: 'nobody@example.com', password: 'wrong-password-123' }));
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const [a, b] = [(await wrong.json()) as any, (await unknown.json()) as any];
    expect(a.code).toBe('INVALID_CREDENTIALS');
    expect(a.request_id).not.toBe(b.request_id);
    const strip = ({ request_id: _r, ...rest }: any) => rest;
    expect(strip(a)).toEqual(strip(b));
    expect(JSON.stringify([a, b])).not.toMatch(/nobody|ada@|wrong-password|4000006/);
    expect(fake.sessions.size).toBe(0);
  });

  it('maps the recorded 4000006 flows directly (scripted, without accounts) to INVALID_CREDENTIALS', async () => {
    const { app, fake } = appWithFakeKratos();
    fake.loginSubmitAnswers.push(recorded('login-wrong-password'), recorded('login-unknown-identifier'));
    for (let i = 0; i < 2; i++) {
      const res = await app.request('/v1/login', json(credentials));
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).code).toBe('INVALID_CREDENTIALS');
    }
  });

  it('refuses a client that sends a valid session with 400 SESSION_ALREADY_AVAILABLE (Kratos refuses at flow creation)', async () => {
    const { app, fake } = appWithFakeKratos();
    const signedIn = fake.issueSession();
    const res = await app.request('/v1/login', json(credentials, { 'x-session-token': signedIn.token }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).code).toBe('SESSION_ALREADY_AVAILABLE');
    expect(calls(fake)).toEqual(['GET /self-service/login/api']);
    expect(fake.requests[0]!.headers['x-session-token']).toBe(signedIn.token);
    expect(fake.sessions.size).toBe(1);
  });

  it('maps the submit-time "valid session was detected" flow (4000001) to SESSION_ALREADY_AVAILABLE too', async () => {
    const { app, fake } = appWithFakeKratos();
    fake.loginSubmitAnswers.push(recorded('login-session-already-available'));
    const res = await app.request('/v1/login', json(credentials));
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).code).toBe('SESSION_ALREADY_AVAILABLE');
  });

  it('retries transparently with a new flow when the first one expired (410)', async () => {
    const { app, fake, logs } = appWithFakeKratos();
    fake.loginSubmitAnswers.push(recorded('login-expired'));
    const res = await app.request('/v1/login', json(credentials));
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).session_token).toMatch(/^ory_st_/);
    expect(calls(fake)).toEqual(['GET /self-service/login/api', 'POST /self-service/login', 'GET /self-service/login/api', 'POST /self-service/login']);
    expect(fake.requests[3]!.path).toBe('/self-service/login?flow=00000000-0000-4000-8000-000000000002');
    expect(logs.some((l) => l.includes('login flow expired between create and submit'))).toBe(true);
  });

  it('gives up after a second expiry with 503 FLOW_EXPIRED', async () => {
    const { app, fake } = appWithFakeKratos();
    fake.loginSubmitAnswers.push(recorded('login-expired'), recorded('login-expired'));
    const res = await app.request('/v1/login', json(credentials));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as any).code).toBe('FLOW_EXPIRED');
    expect(fake.requests).toHaveLength(4);
  });

  it.each([
    ['no answer at flow creation', (f: FakeKratos) => f.loginCreateAnswers.push('network-error')],
    ['no answer at submit', (f: FakeKratos) => f.loginSubmitAnswers.push('network-error')],
    ['a 500 at submit', (f: FakeKratos) => f.loginSubmitAnswers.push({ status: 500, body: { error: { code: 500, message: 'sql: database is locked at /internal/x.go' } } })],
  ])('answers 503 KRATOS_UNAVAILABLE with Retry-After for %s, with no upstream text', async (_name, script) => {
    const { app, fake, logs } = appWithFakeKratos();
    script(fake);
    const res = await app.request('/v1/login', json(credentials));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const problem = (await res.json()) as any;
    expect(problem).toMatchObject({ code: 'KRATOS_UNAVAILABLE', status: 503 });
    expect(JSON.stringify(problem)).not.toMatch(/sql|locked|internal|unreachable/);
    expect(logs.some((l) => l.includes('kratos unavailable during login'))).toBe(true);
  });

  it('revoke_active_sessions: calls DELETE /sessions with the new token, and the other sessions end', async () => {
    const { app, fake } = withLoginJobs([{ job: 'session' }, { job: 'revoke_active_sessions' }]);
    const older = fake.issueSession();
    const res = await app.request('/v1/login', json(credentials));
    expect(res.status).toBe(200);
    const out = (await res.json()) as any;
    expect(calls(fake)).toEqual(['GET /self-service/login/api', 'POST /self-service/login', 'DELETE /sessions']);
    expect(fake.requests[2]!.headers['x-session-token']).toBe(out.session_token);
    expect(older.active).toBe(false);
    expect(fake.sessions.get(out.session_token)!.active).toBe(true);
    expect((await app.request('/v1/session', { headers: { 'x-session-token': older.token } })).status).toBe(401);
  });

  it.each([
    ['no answer', 'network-error' as const],
    ['a 500', { status: 500, body: { error: { code: 500, message: 'boom' } } }],
  ])('revoke_active_sessions failing (%s) revokes the new session too and answers 503', async (_name, answer) => {
    const { app, fake } = withLoginJobs([{ job: 'session' }, { job: 'revoke_active_sessions' }]);
    const older = fake.issueSession();
    fake.revokeOtherSessionsAnswers.push(answer);
    const res = await app.request('/v1/login', json(credentials));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const problem = (await res.json()) as any;
    expect(problem.code).toBe('KRATOS_UNAVAILABLE');
    expect(JSON.stringify(problem)).not.toContain('ory_st_');
    // A scripted 'network-error' never reaches the fake, so only the 500 shows up as received.
    const revokeOthers = answer === 'network-error' ? [] : ['DELETE /sessions'];
    expect(calls(fake)).toEqual(['GET /self-service/login/api', 'POST /self-service/login', ...revokeOthers, 'DELETE /self-service/logout/api']);
    expect(fake.revokeOtherSessionsAnswers).toEqual([]);
    const fresh = [...fake.sessions.values()].find((s) => s !== older)!;
    expect(fake.requests.at(-1)!.body).toEqual({ session_token: fresh.token });
    expect(fresh.active).toBe(false);
    expect(older.active).toBe(true);
    expect(sessionCookie(res)).toBeUndefined();
  });

  it('without a session job, revokes the session Kratos issued and delivers nothing', async () => {
    const { app, fake } = withLoginJobs([]);
    const res = await app.request('/v1/login', json(credentials));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    const [issued] = [...fake.sessions.values()];
    expect(calls(fake).at(-1)).toBe('DELETE /self-service/logout/api');
    expect(issued!.active).toBe(false);
  });

  it('redirect job: the default redirect_to, an allowed return_to, and a refused one before any Kratos call', async () => {
    const { app, fake } = withLoginJobs([{ job: 'session' }, { job: 'redirect', config: { redirect_to: `${APP}/home`, allow_user_defined: true } }]);
    const plain = await app.request('/v1/login', json(credentials));
    expect(((await plain.json()) as any).redirect_to).toBe(`${APP}/home`);
    const asked = await app.request(`/v1/login?return_to=${encodeURIComponent(`${APP}/dash?tab=1`)}`, json(credentials));
    expect(asked.status).toBe(200);
    expect(((await asked.json()) as any).redirect_to).toBe(`${APP}/dash?tab=1`);
    const before = fake.requests.length;
    const evil = await app.request(`/v1/login?return_to=${encodeURIComponent('https://evil.example/')}`, json(credentials));
    expect(evil.status).toBe(400);
    expect(((await evil.json()) as any).code).toBe('RETURN_TO_NOT_ALLOWED');
    expect(fake.requests.length).toBe(before);
  });

  it('answers a plain HTML form post with the cookie and 303 See Other to the redirect target', async () => {
    const { app, fake } = withLoginJobs([{ job: 'session' }, { job: 'redirect', config: { redirect_to: `${APP}/home`, allow_user_defined: true } }], cookieDelivery);
    const res = await app.request(`/v1/login?return_to=${encodeURIComponent(`${APP}/after-form`)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: APP },
      body: new URLSearchParams(credentials).toString(),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${APP}/after-form`);
    expect(sessionCookie(res)).toMatch(/HttpOnly/);
    expect(fake.requests[1]!.body).toEqual({ method: 'password', ...credentials });
    expect(fake.requests[1]!.headers).not.toHaveProperty('origin');
  });
});
