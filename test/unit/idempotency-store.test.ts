import { describe, expect, it } from 'vitest';
import { createMemoryIdempotencyStore, type StoredResponse } from '../../src/idempotency/store.ts';
import { idempotencyStoreContract } from '../support/idempotency-contract.ts';

const response: StoredResponse = { status: 200, headers: { 'set-cookie': 'bff_session=abc; HttpOnly' }, body: '{"session_token":"ory_st_secret"}' };
const TTL = 60_000;

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('createMemoryIdempotencyStore: the store contract (shared with the Redis store)', () => {
  idempotencyStoreContract(() => createMemoryIdempotencyStore({}));
});

describe('createMemoryIdempotencyStore', () => {
  it('claims a new key, then replays its response for the same fingerprint', async () => {
    const store = createMemoryIdempotencyStore({});
    expect(await store.begin('k1', 'fp-a', TTL)).toEqual({ kind: 'started' });
    await store.complete('k1', response);
    expect(await store.begin('k1', 'fp-a', TTL)).toEqual({ kind: 'replay', response });
    expect(await store.begin('k1', 'fp-a', TTL)).toEqual({ kind: 'replay', response });
  });

  it('reports a different fingerprint as a mismatch, before or after completion', async () => {
    const store = createMemoryIdempotencyStore({});
    await store.begin('k1', 'fp-a', TTL);
    expect(await store.begin('k1', 'fp-b', TTL)).toEqual({ kind: 'mismatch' });
    await store.complete('k1', response);
    expect(await store.begin('k1', 'fp-b', TTL)).toEqual({ kind: 'mismatch' });
  });

  it('reports in_progress while the first request runs', async () => {
    const store = createMemoryIdempotencyStore({});
    await store.begin('k1', 'fp-a', TTL);
    expect(await store.begin('k1', 'fp-a', TTL)).toEqual({ kind: 'in_progress' });
  });

  it('lets exactly one of 20 concurrent requests claim a key', async () => {
    const store = createMemoryIdempotencyStore({});
    const results = await Promise.all(Array.from({ length: 20 }, () => store.begin('k1', 'fp-a', TTL)));
    expect(results.filter((r) => r.kind === 'started')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'in_progress')).toHaveLength(19);
  });

  it('forgets a key after its ttl, counted from the first use', async () => {
    const c = clock();
    const store = createMemoryIdempotencyStore({ now: c.now });
    await store.begin('k1', 'fp-a', TTL);
    c.advance(TTL - 1000);
    await store.complete('k1', response);
    c.advance(999);
    expect((await store.begin('k1', 'fp-a', TTL)).kind).toBe('replay');
    c.advance(1);
    expect(await store.begin('k1', 'fp-b', TTL)).toEqual({ kind: 'started' });
  });

  it('lets an abandoned claim expire', async () => {
    const c = clock();
    const store = createMemoryIdempotencyStore({ now: c.now });
    await store.begin('k1', 'fp-a', TTL);
    c.advance(TTL);
    expect(await store.begin('k1', 'fp-a', TTL)).toEqual({ kind: 'started' });
  });

  it('does not attach a response to an expired or released claim', async () => {
    const c = clock();
    const store = createMemoryIdempotencyStore({ now: c.now });
    await store.begin('k1', 'fp-a', TTL);
    c.advance(TTL);
    await store.complete('k1', response);
    expect(await store.begin('k1', 'fp-a', TTL)).toEqual({ kind: 'started' });
    await store.release('k1');
    await store.complete('k1', response);
    expect(await store.begin('k1', 'fp-a', TTL)).toEqual({ kind: 'started' });
  });

  it('release frees a running claim for a retry, but never drops a completed one', async () => {
    const store = createMemoryIdempotencyStore({});
    await store.begin('k1', 'fp-a', TTL);
    await store.release('k1');
    expect(await store.begin('k1', 'fp-b', TTL)).toEqual({ kind: 'started' });
    await store.complete('k1', response);
    await store.release('k1');
    expect((await store.begin('k1', 'fp-b', TTL)).kind).toBe('replay');
  });

  it('complete is first-wins', async () => {
    const store = createMemoryIdempotencyStore({});
    await store.begin('k1', 'fp-a', TTL);
    await store.complete('k1', response);
    await store.complete('k1', { status: 500, headers: {}, body: 'later' });
    expect(await store.begin('k1', 'fp-a', TTL)).toEqual({ kind: 'replay', response });
  });

  it('hands out copies, so a caller cannot change what is replayed', async () => {
    const store = createMemoryIdempotencyStore({});
    await store.begin('k1', 'fp-a', TTL);
    const mine = structuredClone(response);
    await store.complete('k1', mine);
    mine.body = 'changed';
    const first = await store.begin('k1', 'fp-a', TTL);
    if (first.kind !== 'replay') throw new Error('expected a replay');
    first.response.headers['set-cookie'] = 'changed';
    expect(await store.begin('k1', 'fp-a', TTL)).toEqual({ kind: 'replay', response });
  });

  it('evicts the oldest completed keys beyond maxEntries, never a running claim', async () => {
    const store = createMemoryIdempotencyStore({ maxEntries: 3 });
    await store.begin('running', 'fp', TTL);
    for (const k of ['a', 'b']) {
      await store.begin(k, 'fp', TTL);
      await store.complete(k, response);
    }
    await store.begin('c', 'fp', TTL);
    // 'running' is the oldest but still in flight; 'a' is the oldest finished one.
    expect(await store.begin('running', 'fp', TTL)).toEqual({ kind: 'in_progress' });
    expect(await store.begin('a', 'fp', TTL)).toEqual({ kind: 'started' });
    expect((await store.begin('c', 'fp', TTL)).kind).toBe('in_progress');
  });

  it('prunes expired entries so they do not count against maxEntries', async () => {
    const c = clock();
    const store = createMemoryIdempotencyStore({ now: c.now, maxEntries: 2 });
    await store.begin('old', 'fp', TTL);
    await store.complete('old', response);
    c.advance(TTL);
    await store.begin('x', 'fp', TTL);
    await store.complete('x', response);
    await store.begin('y', 'fp', TTL);
    await store.complete('y', response);
    expect((await store.begin('x', 'fp', TTL)).kind).toBe('replay');
    expect((await store.begin('y', 'fp', TTL)).kind).toBe('replay');
  });
});
