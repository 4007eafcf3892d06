import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encryptingStore } from '../../src/idempotency/encrypting-store.ts';
import { createRedisIdempotencyStore, type RedisScriptClient } from '../../src/idempotency/redis-store.ts';
import { StateUnavailableError } from '../../src/idempotency/store.ts';
import { contractResponse, idempotencyStoreContract } from '../support/idempotency-contract.ts';

// The Redis store against the real redis-server of this run (global setup): the same contract
// as the in-memory store, plus what only a shared store has: leases and owner tokens.
let redis: Redis;
let n = 0;
const prefix = () => `test-${process.pid}-${Date.now()}-${++n}:`;
const client = (): RedisScriptClient => ({ eval: (s, k, ...a) => redis.eval(s, k, ...a) });

beforeAll(() => {
  redis = new Redis(inject('redis'), { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  await redis.quit();
});

/** A client that stops reaching Redis when told to, like a process that died or lost its network. */
function killableClient() {
  let dead = false;
  return {
    client: { eval: (s: string, k: number, ...a: string[]) => (dead ? Promise.reject(new Error('connection lost')) : redis.eval(s, k, ...a)) } satisfies RedisScriptClient,
    kill: () => void (dead = true),
  };
}

describe('createRedisIdempotencyStore: the store contract', () => {
  idempotencyStoreContract(() => createRedisIdempotencyStore({ client: client(), keyPrefix: prefix(), leaseMs: 30_000 }));
});

describe('createRedisIdempotencyStore: leases', () => {
  it('a claim whose holder stopped renewing is taken over after the lease, by exactly one of 10', async () => {
    const keyPrefix = prefix();
    const dying = killableClient();
    const first = createRedisIdempotencyStore({ client: dying.client, keyPrefix, leaseMs: 1000 });
    const claimed = await first.begin('k', 'fp', 60_000);
    expect(claimed.kind).toBe('started');
    dying.kill();
    const others = Array.from({ length: 10 }, () => createRedisIdempotencyStore({ client: client(), keyPrefix, leaseMs: 1000 }));
    // Within the lease: refused.
    expect((await others[0]!.begin('k', 'fp', 60_000)).kind).toBe('in_progress');
    await new Promise((r) => setTimeout(r, 1100));
    const results = await Promise.all(others.map((s) => s.begin('k', 'fp', 60_000)));
    expect(results.filter((r) => r.kind === 'started')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'in_progress')).toHaveLength(9);
    const winner = results.findIndex((r) => r.kind === 'started');
    const claim = (results[winner] as { claim?: string }).claim;
    await others[winner]!.complete('k', contractResponse, claim);
    expect(await others[0]!.begin('k', 'fp', 60_000)).toEqual({ kind: 'replay', response: contractResponse });
  });

  it('keeps renewing a running claim, so a long request is not taken over', async () => {
    const keyPrefix = prefix();
    const holder = createRedisIdempotencyStore({ client: client(), keyPrefix, leaseMs: 1000 });
    const other = createRedisIdempotencyStore({ client: client(), keyPrefix, leaseMs: 1000 });
    const begun = await holder.begin('k', 'fp', 60_000);
    await new Promise((r) => setTimeout(r, 2500));
    expect((await other.begin('k', 'fp', 60_000)).kind).toBe('in_progress');
    await holder.release('k', (begun as { claim?: string }).claim);
    expect((await other.begin('k', 'fp', 60_000)).kind).toBe('started');
  });

  it('an old owner can neither complete nor release a claim that was taken over', async () => {
    const keyPrefix = prefix();
    const dying = killableClient();
    const old = createRedisIdempotencyStore({ client: dying.client, keyPrefix, leaseMs: 1000 });
    const oldClaim = (await old.begin('k', 'fp', 60_000)) as { claim?: string };
    dying.kill();
    await new Promise((r) => setTimeout(r, 1100));
    const next = createRedisIdempotencyStore({ client: client(), keyPrefix, leaseMs: 1000 });
    const newClaim = (await next.begin('k', 'fp', 60_000)) as { kind: string; claim?: string };
    expect(newClaim.kind).toBe('started');
    // The old owner comes back: its token no longer owns the key.
    const revived = createRedisIdempotencyStore({ client: client(), keyPrefix, leaseMs: 1000 });
    await revived.complete('k', { status: 500, headers: {}, body: 'stale' }, oldClaim.claim);
    await revived.release('k', oldClaim.claim);
    expect((await revived.begin('k', 'fp', 60_000)).kind).toBe('in_progress');
    await next.complete('k', contractResponse, newClaim.claim);
    expect(await revived.begin('k', 'fp', 60_000)).toEqual({ kind: 'replay', response: contractResponse });
  });
});

describe('createRedisIdempotencyStore: failures and what Redis sees', () => {
  it('throws StateUnavailableError when Redis cannot be reached', async () => {
    const dead = killableClient();
    dead.kill();
    const store = createRedisIdempotencyStore({ client: dead.client, keyPrefix: prefix(), leaseMs: 1000 });
    await expect(store.begin('k', 'fp', 60_000)).rejects.toBeInstanceOf(StateUnavailableError);
  });

  it('behind encryptingStore, Redis holds only HMACs and ciphertext, with the ttl as expiry', async () => {
    const keyPrefix = prefix();
    const store = await encryptingStore(createRedisIdempotencyStore({ client: client(), keyPrefix, leaseMs: 30_000 }), 'x'.repeat(32));
    const begun = await store.begin('client-key-123', 'fingerprint-abc', 60_000);
    await store.complete('client-key-123', contractResponse, (begun as { claim?: string }).claim);
    const keys = await redis.keys(`${keyPrefix}*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(new RegExp(`^${keyPrefix}idem:[0-9a-f]{64}$`));
    const entry = await redis.hgetall(keys[0]!);
    expect(entry.state).toBe('done');
    expect(entry.owner).toBeUndefined();
    const dump = JSON.stringify(entry) + keys[0];
    for (const plain of ['client-key-123', 'fingerprint-abc', 'ory_st_secret', 'bff_session']) expect(dump).not.toContain(plain);
    const ttl = await redis.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await store.begin('client-key-123', 'fingerprint-abc', 60_000)).toEqual({ kind: 'replay', response: contractResponse });
  });
});
