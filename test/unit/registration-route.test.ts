import { describe, expect, it } from 'vitest';
import { appWithFakeKratos, json } from '../support/app.ts';
import { fixture } from '../support/fake-kratos.ts';

const body = { traits: { email: 'ada@example.com' }, password: 'correct-horse-battery' };

describe('POST /v1/registration with a fake Kratos', () => {
  it('creates then submits the native flow, and returns identity, session and token', async () => {
    const { app, fake } = appWithFakeKratos();
    const res = await app.request('/v1/registration', json(body));
    expect(res.status).toBe(200);
    const out = (await res.json()) as any;
    const recorded = fixture('registration-success') as any;
    expect(out.identity.id).toBe(recorded.identity.id);
    expect(out.session_token).toBe(recorded.session_token);
    expect(out.continue_with).toEqual([]);
    expect(fake.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual(['GET /self-service/registration/api', 'POST /self-service/registration']);
    expect(fake.requests[1]!.path).toBe('/self-service/registration?flow=00000000-0000-4000-8000-000000000001');
    expect(fake.requests[1]!.body).toEqual({ method: 'password', traits: body.traits, password: body.password });
    expect(fake.requests[1]!.headers['content-type']).toBe('application/json');
    expect(fake.requests[1]!.headers.accept).toBe('application/json');
  });

  it('forwards a Bearer token as raw X-Session-Token on both calls and never the browser cookie or origin', async () => {
    const { app, fake } = appWithFakeKratos();
    await app.request('/v1/registration', json(body, { authorization: 'Bearer ory_st_abc123', cookie: 'a=b', origin: 'https://x.example' }));
    for (const r of fake.requests) {
      expect(r.headers['x-session-token']).toBe('ory_st_abc123');
      expect(r.headers).not.toHaveProperty('cookie');
      expect(r.headers).not.toHaveProperty('origin');
      expect(r.headers).not.toHaveProperty('authorization');
    }
  });

  it('refuses a malformed session token without calling Kratos', async () => {
    const { app, fake } = appWithFakeKratos();
    const res = await app.request('/v1/registration', json(body, { 'x-session-token': 'bad token with spaces' }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).code).toBe('INVALID_AUTHORIZATION');
    expect(fake.requests).toEqual([]);
  });

  it('maps session_already_available at flow creation', async () => {
    const { app, fake } = appWithFakeKratos();
    fake.createAnswers.push({ status: 400, body: fixture('registration-session-already-available') });
    const res = await app.request('/v1/registration', json(body));
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).code).toBe('SESSION_ALREADY_AVAILABLE');
    expect(fake.requests).toHaveLength(1);
  });

  it('maps session_already_available at submit', async () => {
    const { app, fake } = appWithFakeKratos();
    fake.submitAnswers.push({ status: 400, body: fixture('registration-session-already-available') });
    const res = await app.request('/v1/registration', json(body));
    expect(((await res.json()) as any).code).toBe('SESSION_ALREADY_AVAILABLE');
  });

  it('replays once on an expired flow (410), and also on the 400 variant', async () => {
    for (const status of [410, 400]) {
      const { app, fake, logs } = appWithFakeKratos();
      fake.submitAnswers.push({ status, body: fixture('registration-expired') });
      const res = await app.request('/v1/registration', json(body));
      expect(res.status).toBe(200);
      expect(fake.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'GET', 'POST']);
      expect(logs.some((l) => l.includes('flow expired between create and submit'))).toBe(true);
    }
  });

  it('gives up after a second expiry with 503 FLOW_EXPIRED', async () => {
    const { app, fake } = appWithFakeKratos();
    fake.submitAnswers.push({ status: 410, body: fixture('registration-expired') }, { status: 410, body: fixture('registration-expired') });
    const res = await app.request('/v1/registration', json(body));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as any).code).toBe('FLOW_EXPIRED');
    expect(fake.requests).toHaveLength(4);
  });

  it.each([
    ['a network error at create', 'create', 'network-error' as const],
    ['a network error at submit', 'submit', 'network-error' as const],
    ['a 500 at create', 'create', { status: 500, body: { error: { code: 500, message: 'sql: database is locked at /internal/x.go' } } }],
    ['a 503 at submit', 'submit', { status: 503, body: { error: { code: 503, reason: 'db down' } } }],
  ])('answers 503 KRATOS_UNAVAILABLE with Retry-After for %s, leaking nothing', async (_name, where, answer) => {
    const { app, fake, logs } = appWithFakeKratos();
    (where === 'create' ? fake.createAnswers : fake.submitAnswers).push(answer);
    const res = await app.request('/v1/registration', json(body));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const problem = (await res.json()) as any;
    expect(problem).toMatchObject({ code: 'KRATOS_UNAVAILABLE', status: 503, errors: [] });
    expect(JSON.stringify(problem)).not.toMatch(/sql|db down|internal/);
    expect(logs.some((l) => l.includes('kratos unavailable during registration'))).toBe(true);
  });

  it('answers 502 UPSTREAM_ERROR for an unexpected Kratos answer (unknown flow)', async () => {
    const { app, fake } = appWithFakeKratos();
    fake.submitAnswers.push({ status: 404, body: { error: { code: 404, message: 'Unable to locate the resource' } } });
    const res = await app.request('/v1/registration', json(body));
    expect(res.status).toBe(502);
    const problem = (await res.json()) as any;
    expect(problem.code).toBe('UPSTREAM_ERROR');
    expect(JSON.stringify(problem)).not.toContain('locate');
  });

  it('maps Kratos validation flows to VALIDATION_FAILED with pointers', async () => {
    const { app, fake } = appWithFakeKratos();
    fake.submitAnswers.push({ status: 400, body: fixture('registration-duplicate') });
    const res = await app.request('/v1/registration', json(body));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await res.json()) as any;
    expect(problem).toMatchObject({ type: 'urn:kratos-bff:problem:validation-failed', title: 'Bad Request', status: 400, code: 'VALIDATION_FAILED' });
    expect(problem.request_id).toBe(res.headers.get('x-request-id'));
    expect(problem.errors).toEqual([{ pointer: '/traits/email', code: 'IDENTIFIER_TAKEN', message: 'An account with this email exists already.', kratos: { id: 4000007 } }]);
  });
});

describe('request validation before any Kratos call', () => {
  const fields = {
    company: { type: 'string', required: true, min_length: 2 },
    vat_id: { type: 'string', pattern: '^[A-Z]{2}[0-9A-Z]{2,12}$' },
    accept_terms: { type: 'boolean', const: true, required: true },
    plan: { type: 'enum', values: ['free', 'pro'] },
    seats: { type: 'number', integer: true, min: 1, max: 500 },
    founded: { type: 'date', max: '2026-01-01' },
    billing_email: { type: 'email' },
  } as const;

  it.each([
    ['missing everything', {}, [['/traits', 'REQUIRED'], ['/password', 'REQUIRED'], ['/fields', 'REQUIRED']]],
    ['body not an object', [], [['', 'INVALID_TYPE']]],
    // Unknown names are reported at their parent, never echoed (a key can carry anything).
    ['unknown top-level key', { ...body, fields: { company: 'AB', accept_terms: true }, admin: true }, [['', 'UNKNOWN_FIELD']]],
    ['unknown field', { ...body, fields: { company: 'AB', accept_terms: true, x: 1 } }, [['/fields', 'UNKNOWN_FIELD']]],
    ['required field missing', { ...body, fields: { accept_terms: true } }, [['/fields/company', 'REQUIRED']]],
    ['consent not given', { ...body, fields: { company: 'AB', accept_terms: false } }, [['/fields/accept_terms', 'MUST_BE_ACCEPTED']]],
    ['too short', { ...body, fields: { company: 'A', accept_terms: true } }, [['/fields/company', 'TOO_SHORT']]],
    ['pattern', { ...body, fields: { company: 'AB', accept_terms: true, vat_id: 'nope' } }, [['/fields/vat_id', 'PATTERN_MISMATCH']]],
    ['enum', { ...body, fields: { company: 'AB', accept_terms: true, plan: 'gold' } }, [['/fields/plan', 'INVALID_VALUE']]],
    ['integer', { ...body, fields: { company: 'AB', accept_terms: true, seats: 1.5 } }, [['/fields/seats', 'INVALID_TYPE']]],
    ['range', { ...body, fields: { company: 'AB', accept_terms: true, seats: 501 } }, [['/fields/seats', 'OUT_OF_RANGE']]],
    ['date format', { ...body, fields: { company: 'AB', accept_terms: true, founded: '01/02/2020' } }, [['/fields/founded', 'INVALID_FORMAT']]],
    ['date range', { ...body, fields: { company: 'AB', accept_terms: true, founded: '2027-01-01' } }, [['/fields/founded', 'OUT_OF_RANGE']]],
    ['email', { ...body, fields: { company: 'AB', accept_terms: true, billing_email: 'x@' } }, [['/fields/billing_email', 'INVALID_EMAIL']]],
    ['wrong type', { ...body, password: 12345678, fields: { company: 'AB', accept_terms: true } }, [['/password', 'INVALID_TYPE']]],
  ])('%s', async (_name, input, expected) => {
    const { app, fake } = appWithFakeKratos({ registration: { fields } as never });
    const res = await app.request('/v1/registration', json(input));
    expect(res.status).toBe(400);
    const problem = (await res.json()) as any;
    expect(problem.code).toBe('VALIDATION_FAILED');
    expect(problem.errors.map((e: any) => [e.pointer, e.code])).toEqual(expected);
    expect(fake.requests).toEqual([]);
  });

  it('accepts a complete valid body', async () => {
    const { app } = appWithFakeKratos({ registration: { fields } as never });
    const res = await app.request(
      '/v1/registration',
      json({ ...body, fields: { company: 'AB', accept_terms: true, vat_id: 'GB123456789', plan: 'pro', seats: 3, founded: '2001-02-03', billing_email: 'b@example.com' } }),
    );
    expect(res.status).toBe(200);
  });

  it('refuses a trait that a field also sets', async () => {
    const { app, fake } = appWithFakeKratos({ registration: { fields: { company: { type: 'string', target: 'trait' } } } });
    const res = await app.request('/v1/registration', json({ traits: { email: 'a@example.com', company: 'X' }, password: 'p', fields: { company: 'Y' } }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).errors).toEqual([{ pointer: '/traits/company', code: 'UNKNOWN_FIELD', message: 'is set from fields.company; do not send it in traits' }]);
    expect(fake.requests).toEqual([]);
  });

  it('answers 415 for a non-JSON body, 400 INVALID_JSON for a malformed one, 413 for a huge one', async () => {
    const { app, fake } = appWithFakeKratos();
    const form = await app.request('/v1/registration', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(form.status).toBe(415);
    expect(((await form.json()) as any).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const bad = await app.request('/v1/registration', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"traits":' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).code).toBe('INVALID_JSON');
    const huge = await app.request('/v1/registration', json({ ...body, traits: { email: 'a@example.com', pad: 'x'.repeat(70_000) } }));
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as any).code).toBe('PAYLOAD_TOO_LARGE');
    // Declared too large by its Content-Length: refused from the header alone.
    const declared = await app.request('/v1/registration', { ...json(body), headers: { 'content-type': 'application/json', 'content-length': '999999' } });
    expect(declared.status).toBe(413);
    expect(fake.requests).toEqual([]);
  });
});

describe('the rest of the app', () => {
  it('answers unknown routes with a NOT_FOUND problem', async () => {
    const { app } = appWithFakeKratos();
    const res = await app.request('/nope');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as any).code).toBe('NOT_FOUND');
  });

  it('reports readiness from Kratos', async () => {
    const { app, fake } = appWithFakeKratos();
    expect((await app.request('/health/ready')).status).toBe(200);
    fake.ready = false;
    expect((await app.request('/health/ready')).status).toBe(503);
    expect((await app.request('/health/alive')).status).toBe(200);
  });

  it('sends CORS headers only to configured origins', async () => {
    const { app } = appWithFakeKratos({ cors: { allowed_origins: ['https://app.example.com'] } });
    const ok = await app.request('/v1/registration', { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    const simple = await app.request('/health/alive', { headers: { origin: 'https://app.example.com' } });
    expect(simple.headers.get('access-control-expose-headers')).toBe('X-Request-Id,Retry-After,Idempotent-Replayed,RateLimit,RateLimit-Policy');
    const evil = await app.request('/v1/registration', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('logs one access line per request without query strings or secrets', async () => {
    const { app, logs } = appWithFakeKratos();
    await app.request('/v1/registration?token=secret-in-query', json(body, { authorization: 'Bearer ory_st_abcdefghijkl' }));
    const access = logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ level: 'info', method: 'POST', path: '/v1/registration', status: 200 });
    expect(logs.join('\n')).not.toMatch(/secret-in-query|ory_st_|correct-horse/);
  });
});

describe('nothing half-made when the post-creation phase fails unexpectedly', () => {
  const withMetadataField = { registration: { fields: { plan: { type: 'enum', values: ['free', 'pro'], target: 'metadata_public' } } } } as never;
  const planBody = { ...body, fields: { plan: 'pro' } };

  it('rolls the identity back and answers 500 when a step after creation throws', async () => {
    const { app, fake, logs } = appWithFakeKratos(withMetadataField);
    fake.throwOn = (req) => req.method === 'PATCH';
    const res = await app.request('/v1/registration', json(planBody));
    expect(res.status).toBe(500);
    expect(((await res.json()) as any).code).toBe('INTERNAL_ERROR');
    const identityId = (fixture('registration-success') as any).identity.id;
    expect(fake.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toContain(`DELETE /admin/identities/${identityId}`);
    expect(logs.some((l) => l.includes('sign-up rolled back'))).toBe(true);
  });

  it('releases the Idempotency-Key after such a rollback, so the client can retry', async () => {
    const { app, fake } = appWithFakeKratos(withMetadataField);
    fake.throwOn = (req) => req.method === 'PATCH';
    expect((await app.request('/v1/registration', json(planBody, { 'idempotency-key': 'k-1' }))).status).toBe(500);
    fake.throwOn = undefined;
    const retry = await app.request('/v1/registration', json(planBody, { 'idempotency-key': 'k-1' }));
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
  });

  it('answers ROLLBACK_FAILED and logs the identity id when the rollback itself fails', async () => {
    const { app, fake, logs } = appWithFakeKratos(withMetadataField);
    // The metadata write fails, and so does the delete that would undo the sign-up.
    fake.throwOn = (req) => req.method === 'PATCH' || req.method === 'DELETE';
    const res = await app.request('/v1/registration', json(planBody));
    expect(res.status).toBe(500);
    expect(((await res.json()) as any).code).toBe('ROLLBACK_FAILED');
    const identityId = (fixture('registration-success') as any).identity.id;
    expect(logs.some((l) => l.includes('ROLLBACK FAILED') && l.includes(identityId))).toBe(true);
  });

  it('refuses an HTML form post before any call when cookies cannot be delivered', async () => {
    const { app, fake } = appWithFakeKratos();
    const res = await app.request('/v1/registration', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ 'traits.email': 'ada@example.com', password: 'correct-horse-battery' }).toString(),
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as any).detail).toMatch(/secrets\.session/);
    expect(fake.requests).toEqual([]);
  });
});
