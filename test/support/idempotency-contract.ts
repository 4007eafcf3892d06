import { expect, it } from 'vitest';
import type { IdempotencyStore, StoredResponse } from '../../src/idempotency/store.ts';

/**
 * The behaviour every IdempotencyStore must have, in real time (no pinned clock), so the same
 * tests run against the in-memory store and the Redis store. `fresh()` gives an empty store
 * (or one with its own key space).
 */
export const contractResponse: StoredResponse = { status: 200, headers: { 'set-cookie': 'bff_session=abc; HttpOnly' }, body: '{"session_token":"ory_st_secret"}' };
const TTL = 60_000;

type Claim = string | undefined;
const claimOf = (r: { kind: string; claim?: string }): Claim => (r.kind === 'started' ? r.claim : undefined);

export function idempotencyStoreContract(fresh: () => Promise<IdempotencyStore> | IdempotencyStore): void {
  it('claims a new key, then replays its response for the same fingerprint', async () => {
    const store = await fresh();
    const begun = await store.begin('k1', 'fp-a', TTL);
    expect(begun.kind).toBe('started');
    await store.complete('k1', contractResponse, claimOf(begun));
    expect(await store.begin('k1', 'fp-a', TTL)).toEqual({ kind: 'replay', response: contractResponse });
    expect(await store.begin('k1', 'fp-a', TTL)).toEqual({ kind: 'replay', response: contractResponse });
  });

  it('reports a different fingerprint as a mismatch, before or after completion', async () => {
    const store = await fresh();
    const begun = await store.begin('k1', 'fp-a', TTL);
    expect(await store.begin('k1', 'fp-b', TTL)).toEqual({ kind: 'mismatch' });
    await store.complete('k1', contractResponse, claimOf(begun));
    expect(await store.begin('k1', 'fp-b', TTL)).toEqual({ kind: 'mismatch' });
  });

  it('lets exactly one of 20 concurrent requests claim a key; the others see in_progress', async () => {
    const store = await fresh();
    const results = await Promise.all(Array.from({ length: 20 }, () => store.begin('k1', 'fp-a', TTL)));
    expect(results.filter((r) => r.kind === 'started')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'in_progress')).toHaveLength(19);
    const winner = results.find((r) => r.kind === 'started')!;
    await store.release('k1', claimOf(winner));
  });

  it('release frees a running claim for a retry, but never drops a completed one', async () => {
    const store = await fresh();
    const first = await store.begin('k1', 'fp-a', TTL);
    await store.release('k1', claimOf(first));
    const second = await store.begin('k1', 'fp-b', TTL);
    expect(second.kind).toBe('started');
    await store.complete('k1', contractResponse, claimOf(second));
    await store.release('k1', claimOf(second));
    expect((await store.begin('k1', 'fp-b', TTL)).kind).toBe('replay');
  });

  it('complete is first-wins', async () => {
    const store = await fresh();
    const begun = await store.begin('k1', 'fp-a', TTL);
    await store.complete('k1', contractResponse, claimOf(begun));
    await store.complete('k1', { status: 500, headers: {}, body: 'later' }, claimOf(begun));
    expect(await store.begin('k1', 'fp-a', TTL)).toEqual({ kind: 'replay', response: contractResponse });
  });

  it('forgets a key after its ttl (real time, 1 s)', async () => {
    const store = await fresh();
    const begun = await store.begin('short', 'fp-a', 1000);
    await store.complete('short', contractResponse, claimOf(begun));
    expect((await store.begin('short', 'fp-a', 1000)).kind).toBe('replay');
    await new Promise((r) => setTimeout(r, 1100));
    const again = await store.begin('short', 'fp-b', 1000);
    expect(again.kind).toBe('started');
    await store.release('short', claimOf(again));
  });
}
