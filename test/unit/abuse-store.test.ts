import { describe, expect, it } from 'vitest';
import { durableObjectRateLimitStore, RateLimitObject, type RateLimitNamespaceLike } from '../../src/abuse/durable-object.ts';
import { createFailureTimer, normaliseIdentifier } from '../../src/abuse/guard.ts';
import { createMemoryRateLimitStore, LimiterUnavailableError } from '../../src/abuse/store.ts';
import { rateLimitStoreContract } from '../support/rate-limit-contract.ts';

/** A Durable Object namespace in memory: one RateLimitObject per name, storage a Map, requests serialised per object as workerd does. */
function fakeNamespace(): RateLimitNamespaceLike {
  const objects = new Map<string, { object: RateLimitObject; queue: Promise<unknown> }>();
  return {
    idFromName: (name) => name,
    get(id) {
      const name = id as string;
      let entry = objects.get(name);
      if (!entry) {
        const data = new Map<string, unknown>();
        const storage = {
          get: async <T>(k: string) => data.get(k) as T | undefined,
          put: async (k: string, v: unknown) => void data.set(k, structuredClone(v)),
          deleteAll: async () => data.clear(),
          setAlarm: async (at: number) => void setTimeout(() => void entry!.object.alarm(), Math.max(0, at - Date.now())).unref?.(),
        };
        entry = { object: new RateLimitObject({ storage }), queue: Promise.resolve() };
        objects.set(name, entry);
      }
      const e = entry;
      return {
        fetch: (url, init) => {
          const run = e.queue.then(() => e.object.fetch(new Request(url, init)));
          e.queue = run.catch(() => {});
          return run;
        },
      };
    },
  };
}

describe('memory rate-limit store: the store contract', () => {
  rateLimitStoreContract(() => createMemoryRateLimitStore());
});

describe('Durable Object rate-limit store: the store contract (on a fake namespace)', () => {
  rateLimitStoreContract(() => durableObjectRateLimitStore(fakeNamespace()));

  it('fails closed with LimiterUnavailableError when the object cannot be reached or errs', async () => {
    const down = durableObjectRateLimitStore({ idFromName: (n) => n, get: () => ({ fetch: () => Promise.reject(new Error('network lost')) }) });
    await expect(down.hit('k', 1000)).rejects.toBeInstanceOf(LimiterUnavailableError);
    const erring = durableObjectRateLimitStore({ idFromName: (n) => n, get: () => ({ fetch: async () => new Response('boom', { status: 500 }) }) });
    await expect(erring.peek('k')).rejects.toBeInstanceOf(LimiterUnavailableError);
  });
});

describe('memory rate-limit store on a pinned clock', () => {
  it('ends the window exactly at its end, and evicts the oldest key past maxEntries', async () => {
    let t = 1_000_000;
    const store = createMemoryRateLimitStore({ now: () => t, maxEntries: 2 });
    expect(await store.hit('a', 1000)).toEqual({ count: 1, resetMs: 1000 });
    t += 999;
    expect(await store.hit('a', 1000)).toEqual({ count: 2, resetMs: 1 });
    t += 1;
    expect(await store.peek('a')).toBeUndefined();
    await store.hit('a', 1000);
    await store.hit('b', 1000);
    await store.hit('c', 1000);
    expect(await store.peek('a')).toBeUndefined();
    expect((await store.peek('c'))?.count).toBe(1);
  });
});

describe('equal timing: the learned failed-login duration', () => {
  it('is the maximum of the recent samples, within the floor and the cap, and forgets old samples', () => {
    const timer = createFailureTimer({ floorMs: 50, maxMs: 900, samples: 3 });
    expect(timer.target()).toBe(50);
    timer.record(10);
    expect(timer.target()).toBe(50);
    timer.record(400);
    timer.record(20);
    expect(timer.target()).toBe(400);
    timer.record(5000);
    expect(timer.target()).toBe(900);
    timer.record(30);
    timer.record(30);
    timer.record(60);
    expect(timer.target()).toBe(60);
  });
});

describe('identifier normalisation', () => {
  it('counts spellings of one identifier together', () => {
    expect(normaliseIdentifier('  Ada@Example.COM ')).toBe('ada@example.com');
    expect(normaliseIdentifier('ａｄａ@example.com')).toBe('ada@example.com');
  });
});
