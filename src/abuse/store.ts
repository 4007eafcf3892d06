/**
 * Counters for rate limits and failed-login tracking: fixed windows that start at a key's
 * first hit and expire with it. One interface, three stores: memory (per process, the
 * default), Redis (shared by every instance, `state.backend: redis`) and a Durable Object
 * (Workers). Keys are already hashed by the caller: no store sees an email address.
 */

/** A counter's state after a hit (or a peek). */
export interface Counter {
  count: number;
  /** Milliseconds until the window ends and the counter is gone. */
  resetMs: number;
}

export interface RateLimitStore {
  /** Adds one to `key`'s counter (starting a `windowMs` window on the first hit) and returns it. */
  hit(key: string, windowMs: number): Promise<Counter>;
  /** The counter without changing it; undefined when there is none. */
  peek(key: string): Promise<Counter | undefined>;
  /** Forgets `key` (a successful login clears its failures). */
  reset(key: string): Promise<void>;
}

/** The shared store could not be asked: the route fails closed (503), it does not run unlimited. */
export class LimiterUnavailableError extends Error {
  constructor(cause: unknown) {
    super('the rate-limit store is unavailable', { cause });
    this.name = 'LimiterUnavailableError';
  }
}

export interface MemoryRateLimitStoreOptions {
  /** Milliseconds since the epoch; pinned in tests. */
  now?: () => number;
  /** Most keys kept; the oldest are dropped first (bounds memory under a flood of new IPs). */
  maxEntries?: number;
}

/** Per-process counters in a Map (insertion order = age, so eviction drops the oldest window). */
export function createMemoryRateLimitStore(options: MemoryRateLimitStoreOptions = {}): RateLimitStore {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 100_000;
  const entries = new Map<string, { count: number; resetAt: number }>();
  let lastSweep = 0;

  function live(key: string, t: number) {
    const e = entries.get(key);
    if (e && e.resetAt <= t) {
      entries.delete(key);
      return undefined;
    }
    return e;
  }

  function sweep(t: number) {
    // Expired windows are dropped at most once a second, oldest first, stopping at the first live one
    // of each run of the Map (windows differ per route, so a full pass is bounded by maxEntries anyway).
    if (t - lastSweep < 1000) return;
    lastSweep = t;
    for (const [key, e] of entries) if (e.resetAt <= t) entries.delete(key);
  }

  return {
    async hit(key, windowMs) {
      const t = now();
      sweep(t);
      let e = live(key, t);
      if (!e) {
        if (entries.size >= maxEntries) {
          const oldest = entries.keys().next();
          if (!oldest.done) entries.delete(oldest.value);
        }
        e = { count: 0, resetAt: t + windowMs };
        entries.set(key, e);
      }
      e.count++;
      return { count: e.count, resetMs: e.resetAt - t };
    },
    async peek(key) {
      const t = now();
      const e = live(key, t);
      return e ? { count: e.count, resetMs: e.resetAt - t } : undefined;
    },
    async reset(key) {
      entries.delete(key);
    },
  };
}
