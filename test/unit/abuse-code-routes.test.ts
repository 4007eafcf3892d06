import { describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config.ts';
import { createGateway } from '../../src/gateway.ts';
import { noopTelemetry, type Telemetry } from '../../src/observability/telemetry.ts';
import { createHandleSealer } from '../../src/second-factor/handle.ts';
import type { HttpRequest, HttpResponse } from '../../src/shared/http.ts';
import { createLogger } from '../../src/shared/log.ts';
import { json } from '../support/app.ts';

/**
 * Rate limits on the routes that make Kratos send an email or check a code, with a stand-in
 * Kratos that answers its version and nothing else: the limiter runs before any flow call, so
 * what Kratos would say does not matter; what matters is that the N+1st call never reaches it.
 */

const SECRET = 'unit-test-session-secret-0123456789abcdef';
const kratos = { public_url: 'http://kratos.test', admin_url: 'http://kratos-admin.test' };

function gatewayWith(abuse: ConfigInput['abuse'], options: { version?: string; extra?: Partial<ConfigInput> } = {}) {
  const calls: HttpRequest[] = [];
  const rejections: Array<[string, string]> = [];
  const logs: string[] = [];
  const telemetry: Telemetry = { ...noopTelemetry, metrics: { ...noopTelemetry.metrics, rateLimited: (route, kind) => rejections.push([route, kind]) } };
  const transport = async (req: HttpRequest): Promise<HttpResponse> => {
    calls.push(req);
    if (req.path === '/admin/version') return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: options.version ?? 'v1.3.1' }) };
    return { status: 404, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: 404, message: 'stand-in' } }) };
  };
  const gateway = createGateway({
    config: { kratos, abuse: { brute_force: { enabled: false }, equal_timing: { enabled: false }, ...abuse }, secrets: { session: [SECRET] }, ...options.extra },
    transport,
    telemetry,
    logger: createLogger({ level: 'debug', sink: (l) => logs.push(l) }),
    peerAddress: (c) => c.req.header('x-test-peer') ?? '192.0.2.1',
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) => gateway.request(path, json(body, headers));
  /** Kratos calls other than the (cached) version check. */
  const flowCalls = () => calls.filter((c) => c.path !== '/admin/version').length;
  return { post, calls, flowCalls, rejections, logs };
}

const FLOW = '0b2b6d4e-3c55-4d7e-9c1d-4a0f4a3b9e21';
const OTHER_FLOW = '1c3c7e5f-4d66-4e8f-8d2e-5b1f5b4c0f32';

/** Route name, path, a body for "identifier" n (same n: same identifier). */
const routes: Array<[string, string, (n: number) => unknown, (n: number) => unknown]> = [
  ['verification', '/v1/verification', (n) => ({ email: `ada${n}@example.com` }), (n) => ({ email: `ADA${n}@Example.com` })],
  ['verification_code', '/v1/verification/code', (n) => ({ flow: n ? OTHER_FLOW : FLOW, code: '123456' }), (n) => ({ flow: n ? OTHER_FLOW : FLOW, code: '654321' })],
  ['recovery', '/v1/recovery', (n) => ({ email: `ada${n}@example.com` }), (n) => ({ email: `Ada${n}@EXAMPLE.com` })],
  ['recovery_code', '/v1/recovery/code', (n) => ({ flow: `flow-${n}`, code: '123456', password: 'a-new-password-1' }), (n) => ({ flow: `flow-${n}`, code: '000000', password: 'another-password-2' })],
  ['login_code', '/v1/login/code', (n) => ({ identifier: `ada${n}@example.com` }), (n) => ({ identifier: `ADA${n}@example.com ` })],
  ['login_code_verify', '/v1/login/code/verify', (n) => ({ handle: `h1.handle-${n}`, code: '123456' }), (n) => ({ handle: `h1.handle-${n}`, code: '999999' })],
  ['registration_code', '/v1/registration/code', (n) => ({ traits: { email: `ada${n}@example.com` } }), (n) => ({ traits: { email: `Ada${n}@example.com` } })],
  ['registration_code_verify', '/v1/registration/code/verify', (n) => ({ handle: `h1.handle-${n}`, code: '123456' }), (n) => ({ handle: `h1.handle-${n}`, code: '111111' })],
];

describe.each(routes)('rate limits on %s (POST %s)', (name, path, body, sameIdentifier) => {
  it('per client IP: the N+1st call is 429 RATE_LIMITED with Retry-After and RateLimit headers, and Kratos is not asked', async () => {
    const { post, flowCalls, rejections } = gatewayWith({ rate_limits: { [name]: { ip: { limit: 2, window_s: 60 }, identifier: false } } });
    for (let i = 0; i < 2; i++) expect((await post(path, body(i))).status).not.toBe(429);
    const before = flowCalls();
    const limited = await post(path, body(2));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toBe('application/problem+json');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(limited.headers.get('ratelimit-policy')).toBe('"ip";q=2;w=60');
    expect(limited.headers.get('ratelimit')).toMatch(/^"ip";r=0;t=(60|59)$/);
    expect(await limited.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(flowCalls()).toBe(before);
    expect(rejections).toEqual([[path, 'ip']]);
    // Another client IP has its own window.
    expect((await post(path, body(3), { 'x-test-peer': '192.0.2.2' })).status).not.toBe(429);
  });

  it('per identifier (normalised address, or the flow handle), over every client IP', async () => {
    const { post, rejections } = gatewayWith({ rate_limits: { [name]: { ip: false, identifier: { limit: 2, window_s: 600 } } } });
    expect((await post(path, body(0), { 'x-test-peer': '192.0.2.10' })).status).not.toBe(429);
    expect((await post(path, sameIdentifier(0), { 'x-test-peer': '192.0.2.11' })).status).not.toBe(429);
    const limited = await post(path, sameIdentifier(0), { 'x-test-peer': '192.0.2.12' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('ratelimit-policy')).toBe('"identifier";q=2;w=600');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(599);
    expect(rejections).toEqual([[path, 'identifier']]);
    // Another identifier is not affected.
    expect((await post(path, body(1), { 'x-test-peer': '192.0.2.12' })).status).not.toBe(429);
  });
});

describe('defaults', () => {
  it.each([
    ['/v1/verification', (_i: number) => ({ email: 'ada@example.com' }), 5, '"ip";q=20;w=600, "identifier";q=5;w=600'],
    ['/v1/recovery', (_i: number) => ({ email: 'ada@example.com' }), 5, '"ip";q=20;w=600, "identifier";q=5;w=600'],
    ['/v1/login/code', (_i: number) => ({ identifier: 'ada@example.com' }), 5, '"ip";q=20;w=600, "identifier";q=5;w=600'],
    ['/v1/registration/code', (_i: number) => ({ traits: { email: 'ada@example.com' } }), 5, '"ip";q=20;w=600, "identifier";q=5;w=600'],
    ['/v1/verification/code', (_i: number) => ({ flow: FLOW, code: '123456' }), 10, '"ip";q=30;w=600, "identifier";q=10;w=600'],
    ['/v1/login/code/verify', (_i: number) => ({ handle: 'h1.a.b', code: '123456' }), 10, '"ip";q=30;w=600, "identifier";q=10;w=600'],
  ] as const)('POST %s: the 6th or 11th call of one identifier is 429', async (path, body, n, policy) => {
    const { post } = gatewayWith({});
    for (let i = 0; i < n; i++) expect((await post(path, body(i))).status).not.toBe(429);
    const limited = await post(path, body(n));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('ratelimit-policy')).toBe(policy);
  });
});

describe('rate limits on POST /v1/login/second-factor (TOTP and lookup codes)', () => {
  const sealer = createHandleSealer([SECRET]);
  const handleFor = (identifier: string, token: string) => sealer.seal('second_factor', { t: token, i: identifier }, Date.now() + 600_000);

  it('counts per account: a new sign-in (new handle, new AAL1 session) buys no new tries', async () => {
    const { post, flowCalls, rejections } = gatewayWith({ rate_limits: { second_factor: { ip: false, identifier: { limit: 3, window_s: 86_400 } } } });
    for (let i = 0; i < 3; i++) {
      const res = await post('/v1/login/second-factor', { handle: await handleFor('ada@example.com', `ory_st_session${i}`), totp_code: String(100000 + i) }, { 'x-test-peer': `192.0.2.${20 + i}` });
      expect(res.status).not.toBe(429);
    }
    const before = flowCalls();
    const limited = await post('/v1/login/second-factor', { handle: await handleFor('ada@example.com', 'ory_st_session9'), lookup_code: 'abcd1234' }, { 'x-test-peer': '192.0.2.30' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('ratelimit-policy')).toBe('"identifier";q=3;w=86400');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(86_000);
    expect(limited.headers.get('ratelimit')).toMatch(/^"identifier";r=0;t=\d+$/);
    expect(flowCalls()).toBe(before);
    expect(rejections).toEqual([['/v1/login/second-factor', 'identifier']]);
    // Another account is not affected.
    expect((await post('/v1/login/second-factor', { handle: await handleFor('bob@example.com', 'ory_st_bob'), totp_code: '123456' })).status).not.toBe(429);
  });

  it('counts per client IP, forged handles included', async () => {
    const { post } = gatewayWith({ rate_limits: { second_factor: { ip: { limit: 2, window_s: 300 }, identifier: false } } });
    expect((await post('/v1/login/second-factor', { handle: 'h1.forged.forged', totp_code: '123456' })).status).toBe(400);
    expect((await post('/v1/login/second-factor', { handle: 'h1.forged.forged', totp_code: '123456' })).status).toBe(400);
    const limited = await post('/v1/login/second-factor', { handle: 'h1.forged.forged', totp_code: '123456' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('ratelimit-policy')).toBe('"ip";q=2;w=300');
  });

  it('a step-up (no handle) counts per session', async () => {
    const { post } = gatewayWith({ rate_limits: { second_factor: { ip: false, identifier: { limit: 1, window_s: 300 } } } });
    const token = { 'x-session-token': 'ory_st_stepupsession' };
    expect((await post('/v1/login/second-factor', { totp_code: '123456' }, token)).status).not.toBe(429);
    expect((await post('/v1/login/second-factor', { totp_code: '123456' }, token)).status).toBe(429);
    expect((await post('/v1/login/second-factor', { totp_code: '123456' }, { 'x-session-token': 'ory_st_othersession' })).status).not.toBe(429);
  });

  it('the default allows 20 tries a day per account', async () => {
    const { post } = gatewayWith({});
    const res = await post('/v1/login/second-factor', { handle: await handleFor('ada@example.com', 'ory_st_x'), totp_code: '123456' });
    expect(res.status).not.toBe(429);
    const { post: postLimited } = gatewayWith({});
    let last: Response | undefined;
    for (let i = 0; i < 21; i++) last = await postLimited('/v1/login/second-factor', { handle: await handleFor('ada@example.com', `ory_st_${i}`), totp_code: '123456' }, { 'x-test-peer': `192.0.2.${100 + i}` });
    expect(last!.status).toBe(429);
    expect(last!.headers.get('ratelimit-policy')).toBe('"ip";q=30;w=300, "identifier";q=20;w=86400');
  });
});

describe('answer floors and 429s', () => {
  it('a 429 of POST /v1/verification answers at once: the verification.min_answer_ms floor is for answers that reach Kratos', async () => {
    const { post } = gatewayWith({ rate_limits: { verification: { ip: { limit: 1, window_s: 60 }, identifier: false } } }, { extra: { verification: { min_answer_ms: 3000 } } });
    await post('/v1/verification', { email: 'ada@example.com' });
    const started = performance.now();
    const limited = await post('/v1/verification', { email: 'ada@example.com' });
    expect(limited.status).toBe(429);
    expect(performance.now() - started).toBeLessThan(1500);
  });
});

describe('Kratos v1.0.0', () => {
  it.each([
    ['/v1/login/code', { identifier: 'ada@example.com' }],
    ['/v1/login/code/verify', { handle: 'h1.x.y', code: '123456' }],
    ['/v1/registration/code', { traits: { email: 'ada@example.com' } }],
    ['/v1/registration/code/verify', { handle: 'h1.x.y', code: '123456' }],
    ['/v1/recovery', { email: 'ada@example.com' }],
    ['/v1/recovery/code', { flow: FLOW, code: '123456', password: 'a-new-password-1' }],
  ])('POST %s answers 501 NOT_SUPPORTED_BY_KRATOS before any flow call or rate-limit count', async (path, body) => {
    const { post, flowCalls } = gatewayWith({ rate_limits: { recovery: { ip: { limit: 1, window_s: 60 } } } }, { version: 'v1.0.0' });
    for (let i = 0; i < 2; i++) {
      const res = await post(path, body);
      expect(res.status).toBe(501);
      expect(await res.json()).toMatchObject({ code: 'NOT_SUPPORTED_BY_KRATOS' });
    }
    expect(flowCalls()).toBe(0);
  });
});
