import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpRequest } from '../../src/shared/http.ts';
import { SHORT_LIFESPAN_MS } from './global-setup.ts';
import { allLogs, identitiesByEmail, postJson, startTestGateway, uniqueEmail, whoami, type TestGateway } from '../support/gateway.ts';

const PASSWORD = 'correct-horse-battery-staple';

// Every request the gateway sends to Kratos, for the "no Kratos call" assertions.
const upstreamCalls: HttpRequest[] = [];

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({
    config: {
      registration: {
        fields: {
          company: { type: 'string', required: true, min_length: 2, max_length: 100, target: 'trait' },
          accept_terms: { type: 'boolean', const: true, required: true },
          referral: { type: 'string', target: 'transient_payload' },
        },
      },
      cors: { allowed_origins: ['https://app.example.com'] },
    },
    wrapTransport: (t) => async (req) => {
      upstreamCalls.push(req);
      return t(req);
    },
  });
});
afterAll(async () => {
  await gw?.close();
});

const signUp = (email: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  postJson(
    `${gw.url}/v1/registration`,
    { traits: { email, name: { first: 'Ada' } }, password: PASSWORD, fields: { company: 'Analytical Engines', accept_terms: true }, ...extra },
    headers,
  );

describe('POST /v1/registration against a real Kratos', () => {
  it('signs up and returns identity + a session token that Kratos accepts on whoami', async () => {
    const email = uniqueEmail('ok');
    const res = await signUp(email);
    expect(res.status).toBe(200);
    expect(res.body.identity.traits).toEqual({ email, name: { first: 'Ada' }, company: 'Analytical Engines' });
    expect(res.body.session.active).toBe(true);
    expect(res.body.session_token).toMatch(/^ory_st_/);
    // The token item of continue_with is not repeated: the token has its own field. What is
    // left is Kratos's pointer to the verification flow (the test Kratos requires verification).
    expect(res.body.continue_with).toEqual([
      { action: 'show_verification_ui', flow: { id: expect.any(String), verifiable_address: email } },
    ]);
    expect(res.headers.get('x-request-id')).toBeTruthy();

    const me = await whoami(gw.kratos.publicUrl, res.body.session_token);
    expect(me.status).toBe(200);
    expect(me.body.identity.id).toBe(res.body.identity.id);
  });

  it('reports a duplicate email as IDENTIFIER_TAKEN at /traits/email', async () => {
    const email = uniqueEmail('dup');
    expect((await signUp(email)).status).toBe(200);
    const res = await signUp(email);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors).toEqual([
      { pointer: '/traits/email', code: 'IDENTIFIER_TAKEN', message: 'An account with this email exists already.', kratos: { id: 4000007 } },
    ]);
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toHaveLength(1);
  });

  it('maps a bad email to a field error at /traits/email', async () => {
    const res = await signUp('not-an-email');
    expect(res.status).toBe(400);
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0]).toMatchObject({ pointer: '/traits/email', code: 'INVALID_EMAIL', kratos: { id: 4000001 } });
  });

  it('maps a too-short password to PASSWORD_TOO_SHORT at /password', async () => {
    const res = await signUp(uniqueEmail('shortpw'), { password: 'short' });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      {
        pointer: '/password',
        code: 'PASSWORD_TOO_SHORT',
        message: 'The password must be at least 8 characters long, but got 5.',
        kratos: { id: 4000032 },
      },
    ]);
  });

  it('rejects a missing required extra field before any Kratos call', async () => {
    const email = uniqueEmail('nofield');
    const before = upstreamCalls.length;
    const res = await signUp(email, { fields: { accept_terms: true } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ pointer: '/fields/company', code: 'REQUIRED', message: 'is required' }]);
    expect(upstreamCalls.length).toBe(before);
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toEqual([]);
  });

  it('refuses sign-up for a signed-in user (Bearer or X-Session-Token) as SESSION_ALREADY_AVAILABLE', async () => {
    const first = await signUp(uniqueEmail('signedin'));
    const token = first.body.session_token as string;
    for (const headers of [{ authorization: `Bearer ${token}` }, { 'x-session-token': token }]) {
      const email = uniqueEmail('second');
      const res = await signUp(email, {}, headers);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('SESSION_ALREADY_AVAILABLE');
      expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toEqual([]);
    }
  });

  it('strips the browser Cookie and Origin headers, which Kratos refuses on native flows', async () => {
    const before = upstreamCalls.length;
    const res = await signUp(uniqueEmail('browser'), {}, { cookie: 'ory_kratos_session=stale; theme=dark', origin: 'https://app.example.com' });
    expect(res.status).toBe(200);
    for (const call of upstreamCalls.slice(before)) {
      expect(Object.keys(call.headers)).not.toContain('cookie');
      expect(Object.keys(call.headers)).not.toContain('origin');
    }
  });

  it('forwards a request id to Kratos and echoes it', async () => {
    const before = upstreamCalls.length;
    const res = await signUp(uniqueEmail('reqid'), {}, { 'x-request-id': 'trace-abc-123' });
    expect(res.headers.get('x-request-id')).toBe('trace-abc-123');
    expect(upstreamCalls.slice(before).map((c) => c.headers['x-request-id'])).toEqual(['trace-abc-123', 'trace-abc-123']);
  });

  it('sends transient_payload fields to Kratos without storing them as traits', async () => {
    const before = upstreamCalls.length;
    const res = await signUp(uniqueEmail('transient'), { fields: { company: 'ACME', accept_terms: true, referral: 'friend-42' } });
    expect(res.status).toBe(200);
    expect(res.body.identity.traits).not.toHaveProperty('referral');
    const submit = upstreamCalls.slice(before).find((c) => c.method === 'POST')!;
    expect(JSON.parse(submit.body!).transient_payload).toEqual({ referral: 'friend-42' });
  });

  it('serves /openapi.json generated from the same schemas, including configured fields', async () => {
    const res = await fetch(`${gw.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    const req = doc.components.schemas.RegistrationRequest;
    expect(req.required).toEqual(expect.arrayContaining(['traits', 'password', 'fields']));
    expect(req.properties.fields.required).toEqual(['company', 'accept_terms']);
    expect(doc.paths['/v1/registration'].post.responses['400']).toBeDefined();
  });

  it('is ready when Kratos is ready', async () => {
    const res = await fetch(`${gw.url}/health/ready`);
    expect(res.status).toBe(200);
  });
});

describe('flow expiry against a real Kratos (lifespan 1s)', () => {
  it('recovers transparently when the flow expires between create and submit', async () => {
    const calls: string[] = [];
    let delayed = false;
    const expiring = await startTestGateway({
      kratos: 'short-lifespan',
      wrapTransport: (t) => async (req) => {
        calls.push(`${req.method} ${req.path.split('?')[0]}`);
        // Hold the first submit until its flow has expired in Kratos.
        if (req.method === 'POST' && !delayed) {
          delayed = true;
          await new Promise((r) => setTimeout(r, SHORT_LIFESPAN_MS + 600));
        }
        const res = await t(req);
        calls.push(String(res.status));
        return res;
      },
    });
    try {
      const email = uniqueEmail('expiry');
      const res = await postJson(`${expiring.url}/v1/registration`, { traits: { email }, password: PASSWORD });
      expect(res.status).toBe(200);
      expect(res.body.identity.traits.email).toBe(email);
      // create → submit (410 from the real Kratos) → create → submit (200)
      expect(calls).toEqual([
        'GET /self-service/registration/api', '200',
        'POST /self-service/registration', '410',
        'GET /self-service/registration/api', '200',
        'POST /self-service/registration', '200',
      ]);
      expect(await identitiesByEmail(expiring.kratos.adminUrl, email)).toHaveLength(1);
    } finally {
      await expiring.close();
    }
  });
});

describe('Kratos down', () => {
  it('answers 503 with Retry-After and no upstream detail', async () => {
    const down = await startTestGateway({ config: { kratos: { public_url: 'http://127.0.0.1:9', admin_url: 'http://127.0.0.1:9' } } });
    try {
      const res = await postJson(`${down.url}/v1/registration`, { traits: { email: uniqueEmail('down') }, password: PASSWORD });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(res.body).toMatchObject({ code: 'KRATOS_UNAVAILABLE', errors: [] });
      expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|undici/);
      expect((await fetch(`${down.url}/health/ready`)).status).toBe(503);
    } finally {
      await down.close();
    }
  });
});

describe('logs', () => {
  it('never contain the password or a session token', () => {
    expect(allLogs.length).toBeGreaterThan(10);
    const text = allLogs.join('\n');
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toMatch(/ory_st_[A-Za-z0-9]{8,}/);
  });
});
