import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisRateLimitStore } from '../../src/abuse/redis-store.ts';
import { LimiterUnavailableError } from '../../src/abuse/store.ts';
import type { RedisScriptClient } from '../../src/idempotency/redis-store.ts';
import { postJson, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';
import { rateLimitStoreContract } from '../support/rate-limit-contract.ts';

// The Redis rate-limit store against the real redis-server of this run: the same contract as
// the memory and Durable Object stores, and one limit shared by two gateway processes.
let redis: Redis;
let n = 0;
const prefix = () => `test-rl-${process.pid}-${Date.now()}-${++n}:`;
const client = (): RedisScriptClient => ({ eval: (s, k, ...a) => redis.eval(s, k, ...a) });

beforeAll(() => {
  redis = new Redis(inject('redis'), { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  await redis.quit();
});

describe('createRedisRateLimitStore: the store contract', () => {
  rateLimitStoreContract(() => createRedisRateLimitStore({ client: client(), keyPrefix: prefix() }));

  it('keeps keys under the prefix, and fails closed with LimiterUnavailableError when Redis cannot be reached', async () => {
    const keyPrefix = prefix();
    await createRedisRateLimitStore({ client: client(), keyPrefix }).hit('k', 60_000);
    expect(await redis.keys(`${keyPrefix}*`)).toEqual([`${keyPrefix}rl:k`]);
    const down = createRedisRateLimitStore({ client: { eval: () => Promise.reject(new Error('connection lost')) }, keyPrefix });
    await expect(down.hit('k', 1000)).rejects.toBeInstanceOf(LimiterUnavailableError);
  });
});

describe('two gateway processes on one Redis share a limit', () => {
  const gws: TestGateway[] = [];
  beforeAll(async () => {
    const config = {
      idempotency: { secret: 'rate-limit-redis-test-secret-0123456789abcdef' },
      state: { backend: 'redis' as const, redis: { url: inject('redis'), key_prefix: `${prefix()}` } },
      abuse: { rate_limits: { login: { ip: false as const, identifier: { limit: 3, window_s: 60 } } }, brute_force: { enabled: false }, equal_timing: { enabled: false } },
    };
    gws.push(await startTestGateway({ config }), await startTestGateway({ config }));
  });
  afterAll(async () => {
    await Promise.all(gws.map((g) => g.close()));
  });

  it('counts an identifier over both instances: the 4th attempt, wherever it lands, is a 429', async () => {
    const email = uniqueEmail('redis-rl');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await postJson(`${gws[i % 2]!.url}/v1/login`, { identifier: email, password: 'not-the-password-1' })).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    // The identifier is stored as a keyed hash, never as the address.
    const keys = await redis.keys('*rl:login:id:*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).not.toContain(email);
  });
});
