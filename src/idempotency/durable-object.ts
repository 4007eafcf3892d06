import type { BeginResult, IdempotencyStore, StoredResponse } from './store.ts';

/**
 * The Idempotency-Key store on Cloudflare Workers: one Durable Object per key. In-memory maps
 * are per isolate, so two isolates could both "start" the same key; a Durable Object is a
 * single instance with transactional storage, which gives the replay/409/422 semantics the
 * consistency they need across isolates. Same `IdempotencyStore` interface as on Node (and,
 * like there, wrapped by `encryptingStore`, so the object only sees ciphertext and an HMAC of
 * the key).
 */

// Minimal structural types of the Workers runtime APIs used here (no Node or Workers type
// packages in the portable core).
interface DurableObjectStorage {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<boolean>;
  deleteAll(): Promise<void>;
  setAlarm(scheduledTime: number): Promise<void>;
}
interface DurableObjectState {
  storage: DurableObjectStorage;
}
interface DurableObjectStub {
  fetch(input: string, init: RequestInit): Promise<Response>;
}
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): DurableObjectStub;
}

interface Entry {
  fingerprint: string;
  state: 'running' | 'done';
  response?: StoredResponse;
  startedAt: number;
  expiresAt: number;
}

type Op =
  | { op: 'begin'; fingerprint: string; ttlMs: number }
  | { op: 'complete'; response: StoredResponse }
  | { op: 'release' };

/**
 * A claim whose request died with its isolate would block the key (409) until it expires;
 * after this long a running claim counts as abandoned and may be taken over.
 */
export const RUNNING_LEASE_MS = 120_000;

/** The Durable Object class (exported from the Worker entry, bound as IDEMPOTENCY). */
export class IdempotencyObject {
  constructor(private readonly state: DurableObjectState) {}

  async fetch(request: Request): Promise<Response> {
    const op = (await request.json()) as Op;
    const storage = this.state.storage;
    const now = Date.now();
    // Each event runs to completion against this object's storage (input gates), so this
    // read-check-write is atomic for the key.
    const entry = await storage.get<Entry>('entry');
    const live = entry && entry.expiresAt > now ? entry : undefined;
    switch (op.op) {
      case 'begin': {
        let result: BeginResult;
        if (live && live.fingerprint !== op.fingerprint) result = { kind: 'mismatch' };
        else if (live?.state === 'done' && live.response) result = { kind: 'replay', response: live.response };
        else if (live?.state === 'running' && now - live.startedAt < RUNNING_LEASE_MS) result = { kind: 'in_progress' };
        else {
          const expiresAt = live?.expiresAt ?? now + op.ttlMs;
          await storage.put('entry', { fingerprint: op.fingerprint, state: 'running', startedAt: now, expiresAt } satisfies Entry);
          await storage.setAlarm(expiresAt);
          result = { kind: 'started' };
        }
        return Response.json(result);
      }
      case 'complete':
        if (live?.state === 'running') await storage.put('entry', { ...live, state: 'done', response: op.response } satisfies Entry);
        return new Response(null, { status: 204 });
      case 'release':
        if (live?.state === 'running') await storage.delete('entry');
        return new Response(null, { status: 204 });
    }
  }

  /** Keys expire: the alarm set at `begin` removes the entry. */
  async alarm(): Promise<void> {
    await this.state.storage.deleteAll();
  }
}

/** An `IdempotencyStore` backed by the IdempotencyObject namespace. */
export function durableObjectIdempotencyStore(namespace: DurableObjectNamespaceLike): IdempotencyStore {
  const call = async (key: string, op: Op): Promise<Response> => {
    const res = await namespace.get(namespace.idFromName(key)).fetch('https://idempotency.internal/', {
      method: 'POST',
      body: JSON.stringify(op),
    });
    if (!res.ok) throw new Error(`idempotency object answered ${res.status}`);
    return res;
  };
  return {
    begin: async (key, fingerprint, ttlMs) => (await (await call(key, { op: 'begin', fingerprint, ttlMs })).json()) as BeginResult,
    complete: async (key, response) => void (await call(key, { op: 'complete', response })),
    release: async (key) => void (await call(key, { op: 'release' })),
  };
}
