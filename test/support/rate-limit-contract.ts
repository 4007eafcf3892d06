import { expect, it } from 'vitest';
import type { RateLimitStore } from '../../src/abuse/store.ts';

/**
 * What every RateLimitStore must do, in real time, so the same tests run against the memory
 * store, the Durable Object (unit, on a fake storage) and Redis (integration).
 */
export function rateLimitStoreContract(fresh: () => Promise<RateLimitStore> | RateLimitStore): void {
  it('counts hits in a window that starts at the first hit and reports the time left', async () => {
    const store = await fresh();
    expect(await store.peek('k')).toBeUndefined();
    const first = await store.hit('k', 60_000);
    expect(first.count).toBe(1);
    expect(first.resetMs).toBeGreaterThan(55_000);
    expect(first.resetMs).toBeLessThanOrEqual(60_000);
    expect((await store.hit('k', 60_000)).count).toBe(2);
    // A later hit does not move the window.
    expect((await store.hit('k', 120_000)).resetMs).toBeLessThanOrEqual(60_000);
    expect((await store.peek('k'))?.count).toBe(3);
    expect((await store.hit('other', 60_000)).count).toBe(1);
  });

  it('forgets a key on reset', async () => {
    const store = await fresh();
    await store.hit('k', 60_000);
    await store.reset('k');
    expect(await store.peek('k')).toBeUndefined();
    expect((await store.hit('k', 60_000)).count).toBe(1);
  });

  it('starts again once the window is over', async () => {
    const store = await fresh();
    await store.hit('short', 150);
    await store.hit('short', 150);
    await new Promise((r) => setTimeout(r, 300));
    expect(await store.peek('short')).toBeUndefined();
    expect((await store.hit('short', 150)).count).toBe(1);
  });

  it('counts every one of 50 concurrent hits exactly once', async () => {
    const store = await fresh();
    const counts = await Promise.all(Array.from({ length: 50 }, () => store.hit('burst', 60_000)));
    expect(counts.map((c) => c.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });
}
