import { describe, expect, it } from 'vitest';
import type { RateLimitStore } from '../../src/abuse/store.ts';
import { LimiterUnavailableError } from '../../src/abuse/store.ts';
import type { ConfigInput } from '../../src/config.ts';
import { createGateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/shared/log.ts';
import { json } from '../support/app.ts';
import { createFakeKratos } from '../support/fake-kratos.ts';

/** Rate limits, brute-force blocks and the client IP on the routes, with the fake Kratos. */

const kratos = { public_url: 'http://kratos.test', admin_url: 'http://kratos-admin.test' };
const PASSWORD = 'correct-horse-battery';

function gatewayWith(abuse: ConfigInput['abuse'], extra: Partial<ConfigInput> = {}, rateLimitStore?: RateLimitStore) {
  const fake = createFakeKratos();
  fake.accounts.set('ada@example.com', PASSWORD);
  const logs: string[] = [];
  const gateway = createGateway({
    config: { kratos, abuse, ...extra },
    transport: fake.transport,
    logger: createLogger({ level: 'debug', sink: (l) => logs.push(l) }),
    // The "socket" peer of each request: the x-test-peer header (absent: 192.0.2.1).
    peerAddress: (c) => c.req.header('x-test-peer') ?? '192.0.2.1',
    ...(rateLimitStore ? { rateLimitStore } : {}),
  });
  const login = (identifier: string, password: string, headers: Record<string, string> = {}) => gateway.request('/v1/login', json({ identifier, password }, headers));
  return { gateway, fake, logs, login };
}

const noTiming = { equal_timing: { enabled: false } };

describe('rate limits on POST /v1/login', () => {
  it('answers the N+1st attempt in the window with 429 RATE_LIMITED, Retry-After and the IETF RateLimit headers', async () => {
    const { login, fake } = gatewayWith({ rate_limits: { login: { ip: { limit: 3, window_s: 60 }, identifier: { limit: 100, window_s: 60 } } }, brute_force: { enabled: false }, ...noTiming });
    for (let i = 0; i < 3; i++) {
      const res = await login('ada@example.com', PASSWORD);
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"ip";q=3;w=60, "identifier";q=100;w=60');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"ip";r=${2 - i};t=(60|59), "identifier";r=${99 - i};t=(60|59)$`));
    }
    const calls = fake.requests.length;
    const limited = await login('ada@example.com', PASSWORD);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toBe('application/problem+json');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(limited.headers.get('ratelimit')).toMatch(/^"ip";r=0;t=\d+/);
    expect(limited.headers.get('ratelimit-policy')).toContain('"ip";q=3;w=60');
    expect(await limited.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED', title: 'Too Many Requests' });
    // Refused before Kratos was asked.
    expect(fake.requests.length).toBe(calls);
    // Another client IP has its own window.
    expect((await login('ada@example.com', PASSWORD, { 'x-test-peer': '192.0.2.2' })).status).toBe(200);
  });

  it('counts the identifier over every IP, after normalisation', async () => {
    const { login } = gatewayWith({ rate_limits: { login: { ip: false, identifier: { limit: 2, window_s: 60 } } }, brute_force: { enabled: false }, ...noTiming });
    expect((await login('ada@example.com', PASSWORD, { 'x-test-peer': '192.0.2.10' })).status).toBe(200);
    // (The fake Kratos compares identifiers exactly: 401; the limiter counts it as the same identifier.)
    expect((await login(' ADA@example.com', PASSWORD, { 'x-test-peer': '192.0.2.11' })).status).toBe(401);
    const res = await login('ada@EXAMPLE.com', PASSWORD, { 'x-test-peer': '192.0.2.12' });
    expect(res.status).toBe(429);
    expect(res.headers.get('ratelimit-policy')).toBe('"identifier";q=2;w=60');
  });

  it('sends no RateLimit headers and never 429s with abuse.enabled: false', async () => {
    const { login } = gatewayWith({ enabled: false, rate_limits: { login: { ip: { limit: 1, window_s: 60 } } } });
    for (let i = 0; i < 3; i++) {
      const res = await login('ada@example.com', PASSWORD);
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit')).toBeNull();
    }
  });

  it('fails closed (503 LIMITER_UNAVAILABLE, Retry-After) when the shared store cannot be asked', async () => {
    const down: RateLimitStore = {
      hit: () => Promise.reject(new LimiterUnavailableError(new Error('ECONNREFUSED'))),
      peek: () => Promise.reject(new LimiterUnavailableError(new Error('ECONNREFUSED'))),
      reset: () => Promise.reject(new LimiterUnavailableError(new Error('ECONNREFUSED'))),
    };
    const { login, fake } = gatewayWith({}, {}, down);
    const res = await login('ada@example.com', PASSWORD);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(await res.json()).toMatchObject({ code: 'LIMITER_UNAVAILABLE' });
    expect(fake.requests).toEqual([]);
    // Or open, when configured so: the login goes through, unlimited, and the log says why.
    const open = gatewayWith({ store_unavailable: 'open' }, {}, down);
    expect((await open.login('ada@example.com', PASSWORD)).status).toBe(200);
    expect((await open.login('ada@example.com', 'wrong-password')).status).toBe(401);
    expect(open.logs.join('\n')).toContain('rate-limit store unavailable');
  });
});

describe('brute-force protection on login', () => {
  const bf = (extra = {}) => ({ rate_limits: { login: { ip: false as const, identifier: false as const } }, brute_force: { identifier_ip: { failures: 3, window_s: 60 }, identifier: { failures: 5, window_s: 60 } }, ...noTiming, ...extra });

  it('blocks an identifier from one IP after its failures, not from another IP', async () => {
    const { login, logs } = gatewayWith(bf());
    for (let i = 0; i < 3; i++) expect((await login('ada@example.com', 'wrong-password')).status).toBe(401);
    const blocked = await login('ada@example.com', PASSWORD);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(50);
    expect(await blocked.json()).toMatchObject({ code: 'RATE_LIMITED' });
    // The owner elsewhere still signs in; the attacker's IP stays blocked (the owner's success does not give it new tries).
    expect((await login('ada@example.com', PASSWORD, { 'x-test-peer': '198.51.100.7' })).status).toBe(200);
    expect((await login('ada@example.com', PASSWORD)).status).toBe(429);
    expect(logs.join('\n')).not.toContain(PASSWORD);
    expect(logs.join('\n')).not.toContain('wrong-password');
  });

  it('starts counting again after a successful login', async () => {
    const { login } = gatewayWith(bf());
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) expect((await login('ada@example.com', 'wrong-password')).status).toBe(401);
      expect((await login('ada@example.com', PASSWORD)).status).toBe(200);
    }
  });

  it('blocks the identifier everywhere once failures from many IPs reach the overall threshold', async () => {
    const { login } = gatewayWith(bf());
    for (let i = 0; i < 5; i++) expect((await login('ada@example.com', 'wrong-password', { 'x-test-peer': `203.0.113.${i + 1}` })).status).toBe(401);
    expect((await login('ada@example.com', PASSWORD, { 'x-test-peer': '203.0.113.200' })).status).toBe(429);
    // Another identifier is not affected.
    expect((await login('bob@example.com', 'wrong-password', { 'x-test-peer': '203.0.113.200' })).status).toBe(401);
  });

  it('treats unknown identifiers like known ones (a block reveals nothing)', async () => {
    const { login } = gatewayWith(bf());
    for (let i = 0; i < 3; i++) expect((await login('nobody@example.com', 'wrong-password')).status).toBe(401);
    expect((await login('nobody@example.com', 'wrong-password')).status).toBe(429);
  });

  it('pads failed logins to the learned failure duration (equal timing)', async () => {
    const { login } = gatewayWith({ ...bf(), brute_force: { enabled: false }, equal_timing: { floor_ms: 150 } });
    const started = Date.now();
    expect((await login('nobody@example.com', 'wrong-password')).status).toBe(401);
    expect(Date.now() - started).toBeGreaterThanOrEqual(145);
    const ok = Date.now();
    expect((await login('ada@example.com', PASSWORD)).status).toBe(200);
    expect(Date.now() - ok).toBeLessThan(145);
  });
});

describe('rate limits on POST /v1/registration', () => {
  it('limits per identifier trait (kratos.identifier_pointer) before the Idempotency-Key is claimed', async () => {
    const { gateway } = gatewayWith({ rate_limits: { registration: { ip: { limit: 100, window_s: 60 }, identifier: { limit: 1, window_s: 600 } } } });
    const body = (email: string) => json({ traits: { email }, password: 'a-long-enough-password-1' }, { 'idempotency-key': `key-${email}-${Math.random()}` });
    const first = await gateway.request('/v1/registration', body('grace@example.com'));
    expect(first.headers.get('ratelimit-policy')).toBe('"ip";q=100;w=60, "identifier";q=1;w=600');
    const second = await gateway.request('/v1/registration', body('Grace@example.com'));
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(590);
  });
});

describe('the client IP through trusted proxies', () => {
  it('keys limits on X-Forwarded-For from a trusted peer, and ignores it from an untrusted one', async () => {
    const { login } = gatewayWith({ rate_limits: { login: { ip: { limit: 1, window_s: 60 }, identifier: false } }, brute_force: { enabled: false }, ...noTiming }, { server: { trusted_proxies: ['10.0.0.0/8'] } });
    const viaProxy = (xff: string) => ({ 'x-test-peer': '10.0.0.1', 'x-forwarded-for': xff });
    expect((await login('ada@example.com', PASSWORD, viaProxy('203.0.113.1'))).status).toBe(200);
    expect((await login('ada@example.com', PASSWORD, viaProxy('203.0.113.2'))).status).toBe(200);
    expect((await login('ada@example.com', PASSWORD, viaProxy('203.0.113.1'))).status).toBe(429);
    // An untrusted peer cannot escape its own limit by spoofing the header.
    const spoof = (xff: string) => ({ 'x-test-peer': '198.51.100.50', 'x-forwarded-for': xff });
    expect((await login('ada@example.com', PASSWORD, spoof('1.1.1.1'))).status).toBe(200);
    expect((await login('ada@example.com', PASSWORD, spoof('2.2.2.2'))).status).toBe(429);
  });

  it('forwards the resolved client IP to Kratos as True-Client-Ip, never a spoofed one', async () => {
    const { login, fake } = gatewayWith({ enabled: false }, { server: { trusted_proxies: 1 } });
    await login('ada@example.com', PASSWORD, { 'x-test-peer': '10.0.0.1', 'x-forwarded-for': '6.6.6.6, 203.0.113.9' });
    expect(fake.requests.map((r) => r.headers['true-client-ip'])).toEqual(['203.0.113.9', '203.0.113.9']);
  });
});

describe('/openapi.json', () => {
  it('documents 429 and the RateLimit headers on the limited operations, and RATE_LIMITED', async () => {
    const { gateway } = gatewayWith({});
    const doc = (await (await gateway.request('/openapi.json')).json()) as any;
    for (const path of ['/v1/login', '/v1/registration']) {
      const op = doc.paths[path].post;
      expect(Object.keys(op.responses[429].headers)).toEqual(expect.arrayContaining(['Retry-After', 'RateLimit', 'RateLimit-Policy']));
      expect(Object.keys(op.responses[200].headers)).toEqual(expect.arrayContaining(['RateLimit', 'RateLimit-Policy']));
    }
    expect(JSON.stringify(doc.components.schemas.Problem)).toContain('RATE_LIMITED');
  });
});
