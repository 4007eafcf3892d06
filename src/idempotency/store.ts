/**
 * Idempotency-Key for sign-up, after the IETF draft (draft-ietf-httpapi-idempotency-key-header)
 * and Stripe's practice: the first response to a key is kept and replayed to retries with the
 * same body; a different body under the same key, or a retry while the first request still
 * runs, is refused. The store is an interface so a shared store (Redis, D1, a Durable Object)
 * can replace the in-memory one when the gateway runs as several processes.
 */

/** What a replay needs of the first response; it can hold a session token or cookie. */
export interface StoredResponse {
  status: number;
  /** Headers to replay, e.g. set-cookie (lower-case names). */
  headers: Record<string, string>;
  body: string;
}

/** `started`: go ahead; `in_progress` → 409; `mismatch` → 422; `replay`: answer with the stored response. */
export type BeginResult =
  /** `claim` identifies this holder of the key, for stores shared by several processes. */
  | { kind: 'started'; claim?: string }
  | { kind: 'in_progress' }
  | { kind: 'mismatch' }
  | { kind: 'replay'; response: StoredResponse };

/** Where claims and first responses live; implement it over a shared store for several processes. */
export interface IdempotencyStore {
  /** Atomically claims `key` for a request whose body hashes to `fingerprint`, or reports why not. */
  begin(key: string, fingerprint: string, ttlMs: number): Promise<BeginResult>;
  /**
   * Stores the response of a claimed key, to be replayed until the key expires. A shared store
   * only does so while `claim` (from `begin`) still holds the key.
   */
  complete(key: string, response: StoredResponse, claim?: string): Promise<void>;
  /** Releases a claim whose request failed in a way that may be retried (nothing was created). */
  release(key: string, claim?: string): Promise<void>;
}

/**
 * Thrown by a shared store that cannot be reached. Sign-ups with an Idempotency-Key then answer
 * 503 (STATE_UNAVAILABLE) rather than run without the guarantee: never risk a duplicate.
 */
export class StateUnavailableError extends Error {
  constructor(cause: unknown) {
    super('the shared state store is unavailable', { cause });
    this.name = 'StateUnavailableError';
  }
}

/** Settings of the in-memory store. */
export interface MemoryIdempotencyStoreOptions {
  /** Milliseconds since the epoch; pinned in tests. */
  now?: () => number;
  /** Most keys kept; beyond it the oldest finished ones are evicted. */
  maxEntries?: number;
}

interface Entry {
  fingerprint: string;
  expiresAt: number;
  response?: StoredResponse;
}

/**
 * An in-memory store for one process (or one Workers isolate: not shared between isolates).
 * Each call does its check-and-set synchronously, before any await, so concurrent requests in
 * the process cannot both claim a key. A key lives `ttlMs` from its first use, replays
 * included, as with Stripe. Callers must `complete` or `release` every claim (in a `finally`):
 * an abandoned claim answers `in_progress` until it expires.
 */
export function createMemoryIdempotencyStore(opts: MemoryIdempotencyStoreOptions = {}): IdempotencyStore {
  const now = opts.now ?? (() => Date.now());
  const maxEntries = opts.maxEntries ?? 10_000;
  // Insertion order is claim order, and expiry is claim time + ttl, so the oldest and the
  // first to expire are at the front.
  const entries = new Map<string, Entry>();

  function pruneExpired(at: number): void {
    for (const [key, entry] of entries) {
      if (entry.expiresAt > at) break;
      entries.delete(key);
    }
  }

  function evictBeyondLimit(): void {
    if (entries.size <= maxEntries) return;
    for (const [key, entry] of entries) {
      if (entries.size <= maxEntries) return;
      // A claim still running is never evicted: that would let a concurrent retry create a
      // second identity. Running claims are bounded by in-flight requests anyway.
      if (entry.response) entries.delete(key);
    }
  }

  return {
    async begin(key, fingerprint, ttlMs) {
      const at = now();
      pruneExpired(at);
      const existing = entries.get(key);
      if (existing && existing.expiresAt > at) {
        if (existing.fingerprint !== fingerprint) return { kind: 'mismatch' };
        if (!existing.response) return { kind: 'in_progress' };
        return { kind: 'replay', response: structuredClone(existing.response) };
      }
      entries.delete(key);
      entries.set(key, { fingerprint, expiresAt: at + ttlMs });
      evictBeyondLimit();
      return { kind: 'started' };
    },

    async complete(key, response) {
      const entry = entries.get(key);
      // A claim that expired or was released meanwhile has nothing to attach the response to.
      if (entry && !entry.response && entry.expiresAt > now()) entry.response = structuredClone(response);
    },

    async release(key) {
      const entry = entries.get(key);
      if (entry && !entry.response) entries.delete(key);
    },
  };
}
