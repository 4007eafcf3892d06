import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWorkerBundle } from '../../scripts/bundle-size.ts';
import { postJson, uniqueEmail } from '../support/gateway.ts';
import { scenarioConfig, scenarioEnv } from '../support/runtime-scenarios.ts';

/**
 * Rate limits on Workers: the Worker build inside workerd (Miniflare) with the RATE_LIMITS
 * Durable Object namespace bound, against the real Kratos. The counters live in the
 * RateLimitObject (persisted to a temp dir, so the test can see it was used), not in the
 * isolate's memory. CF-Connecting-IP, which Cloudflare's edge sets, is the client IP.
 */
describe('worker (workerd): rate limits in the RateLimitObject Durable Object', () => {
  const kratos = inject('kratos');
  const persist = mkdtempSync(join(tmpdir(), 'kbff-rl-'));
  let mf: Miniflare;
  let url: string;

  beforeAll(async () => {
    const raw = scenarioConfig(kratos, 'http://127.0.0.1:9') as any;
    raw.abuse = { rate_limits: { login: { ip: { limit: 3, window_s: 60 }, identifier: false } }, brute_force: { identifier_ip: { failures: 2, window_s: 60 }, identifier: { failures: 100, window_s: 60 } }, equal_timing: { enabled: false } };
    const bundle = buildWorkerBundle();
    mf = new Miniflare({
      modules: true,
      modulesRoot: join(bundle.path, '..'),
      scriptPath: bundle.path,
      compatibilityDate: '2025-09-01',
      cf: false,
      bindings: { GATEWAY_CONFIG: JSON.stringify(raw), ...scenarioEnv },
      durableObjects: { IDEMPOTENCY: 'IdempotencyObject', RATE_LIMITS: 'RateLimitObject' },
      durableObjectsPersist: persist,
      port: 0,
    });
    url = (await mf.ready).href.replace(/\/$/, '');
  });
  afterAll(async () => {
    await mf?.dispose();
    rmSync(persist, { recursive: true, force: true });
  });

  const login = (identifier: string, ip: string) => postJson(`${url}/v1/login`, { identifier, password: 'not-the-password-1' }, { 'cf-connecting-ip': ip });

  it('holds the per-IP limit across requests: the 4th in the window is a 429 with Retry-After and RateLimit headers', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await login(uniqueEmail('w-nobody'), '203.0.113.70');
      statuses.push(res.status);
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"ip";r=${2 - i};t=\\d+$`));
    }
    expect(statuses).toEqual([401, 401, 401]);
    const limited = await login(uniqueEmail('w-nobody'), '203.0.113.70');
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(50);
    expect(limited.headers.get('ratelimit-policy')).toBe('"ip";q=3;w=60');
    // Another client (CF-Connecting-IP) has its own counter.
    expect((await login(uniqueEmail('w-nobody'), '203.0.113.71')).status).toBe(401);
    // The counters are Durable Object storage, not isolate memory.
    const files = readdirSync(persist, { recursive: true }).map(String);
    expect(files.some((f) => f.includes('RateLimitObject') && f.endsWith('.sqlite'))).toBe(true);
  });

  it('blocks an identifier after repeated failures from one IP (brute force), counted in the Durable Object', async () => {
    const email = uniqueEmail('w-victim');
    expect((await login(email, '203.0.113.80')).status).toBe(401);
    expect((await login(email, '203.0.113.80')).status).toBe(401);
    const blocked = await login(email, '203.0.113.80');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await login(email, '203.0.113.81')).status).toBe(401);
  });
});
