import { LimiterUnavailableError, type Counter, type RateLimitStore } from './store.ts';

/**
 * Rate-limit counters on Cloudflare Workers: one Durable Object per counter key. Isolates do not
 * share memory, so a per-isolate Map would let each isolate grant the full limit; a Durable
 * Object is a single instance whose events run one at a time (input gates), so its
 * read-increment-write is atomic. Same pattern as `idempotency/durable-object.ts`.
 */

// Minimal structural types of the Workers runtime (no Workers types in the portable core).
interface Storage {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
  deleteAll(): Promise<void>;
  setAlarm(scheduledTime: number): Promise<void>;
}
interface State {
  storage: Storage;
}
interface Stub {
  fetch(input: string, init: RequestInit): Promise<Response>;
}
export interface RateLimitNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): Stub;
}

interface Entry {
  count: number;
  resetAt: number;
}

type Op = { op: 'hit'; windowMs: number } | { op: 'peek' } | { op: 'reset' };

/** The Durable Object class (exported from the Worker entry, bound as RATE_LIMITS). */
export class RateLimitObject {
  constructor(private readonly state: State) {}

  async fetch(request: Request): Promise<Response> {
    const op = (await request.json()) as Op;
    const storage = this.state.storage;
    const now = Date.now();
    const stored = await storage.get<Entry>('c');
    const entry = stored && stored.resetAt > now ? stored : undefined;
    switch (op.op) {
      case 'hit': {
        const next: Entry = entry ? { count: entry.count + 1, resetAt: entry.resetAt } : { count: 1, resetAt: now + op.windowMs };
        await storage.put('c', next);
        if (!entry) await storage.setAlarm(next.resetAt);
        return Response.json({ count: next.count, resetMs: next.resetAt - now } satisfies Counter);
      }
      case 'peek':
        return Response.json(entry ? ({ count: entry.count, resetMs: entry.resetAt - now } satisfies Counter) : null);
      case 'reset':
        await storage.deleteAll();
        return new Response(null, { status: 204 });
    }
  }

  /** The window's end: the object forgets its counter. */
  async alarm(): Promise<void> {
    await this.state.storage.deleteAll();
  }
}

/** A `RateLimitStore` backed by the RateLimitObject namespace. */
export function durableObjectRateLimitStore(namespace: RateLimitNamespaceLike): RateLimitStore {
  const call = async (key: string, op: Op): Promise<Response> => {
    let res: Response;
    try {
      res = await namespace.get(namespace.idFromName(key)).fetch('https://rate-limits.internal/', { method: 'POST', body: JSON.stringify(op) });
    } catch (err) {
      throw new LimiterUnavailableError(err);
    }
    if (!res.ok) throw new LimiterUnavailableError(new Error(`rate-limit object answered ${res.status}`));
    return res;
  };
  return {
    hit: async (key, windowMs) => (await (await call(key, { op: 'hit', windowMs })).json()) as Counter,
    peek: async (key) => ((await (await call(key, { op: 'peek' })).json()) as Counter | null) ?? undefined,
    reset: async (key) => void (await call(key, { op: 'reset' })),
  };
}
