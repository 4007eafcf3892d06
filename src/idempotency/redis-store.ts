import { StateUnavailableError, type BeginResult, type IdempotencyStore, type StoredResponse } from './store.ts';

/**
 * The Idempotency-Key store on Redis, shared by every gateway process that uses the same Redis
 * and `key_prefix`. Portable: it takes a minimal client (ioredis satisfies it; the Node entry
 * builds one), so nothing Node-only enters the core. Wrapped by `encryptingStore` like every
 * store: Redis only ever sees HMACs of keys and fingerprints, and sealed responses.
 *
 * Layout: one hash per key, `<prefix>idem:<hmac of the key>`, expiring `ttl_ms` after the
 * key's first use (replays do not extend it, as with Stripe):
 *   fp           HMAC of the request fingerprint
 *   state        `running` | `done`
 *   owner        random token of the claim's holder (while running)
 *   lease_until  Redis time (ms) until which the claim is owned (while running)
 *   response     the sealed first response, JSON (once done)
 * Every read-check-write is one Lua script, so Redis runs it atomically. Time is Redis's own
 * (`TIME`), so clocks of the gateway hosts do not matter.
 */

/** What the store needs of a Redis client: `EVAL` (ioredis's `eval` has this shape). */
export interface RedisScriptClient {
  eval(script: string, numKeys: number, ...args: string[]): Promise<unknown>;
}

export interface RedisIdempotencyStoreOptions {
  client: RedisScriptClient;
  /** Prefix of every key (config `state.redis.key_prefix`). */
  keyPrefix: string;
  /** How long a claim is owned without renewal (config `idempotency.lease_ms`). */
  leaseMs: number;
  /** Told when renewing a lease failed (Redis unreachable, or the claim was lost). */
  onRenewFailed?: (reason: 'unreachable' | 'lost') => void;
}

const NOW = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS[1] entry; ARGV fingerprint, owner token, ttl ms, lease ms.
const BEGIN = `${NOW}
local e = redis.call('HMGET', KEYS[1], 'fp', 'state', 'lease_until', 'response')
if e[1] then
  if e[1] ~= ARGV[1] then return {'mismatch'} end
  if e[2] == 'done' then return {'replay', e[4]} end
  if tonumber(e[3]) > now then return {'in_progress'} end
  -- The holder stopped renewing (its process died): take the claim over, keeping the key's expiry.
  redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'lease_until', now + tonumber(ARGV[4]))
  return {'started', 'takeover'}
end
redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'running', 'owner', ARGV[2], 'lease_until', now + tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'started'}`;

// The three below act only while the caller still owns a running claim (compare-and-set on owner).
const OWNS = `redis.call('HGET', KEYS[1], 'state') == 'running' and redis.call('HGET', KEYS[1], 'owner') == ARGV[1]`;

// KEYS[1] entry; ARGV owner token, response JSON.
const COMPLETE = `if ${OWNS} then
  redis.call('HSET', KEYS[1], 'state', 'done', 'response', ARGV[2])
  redis.call('HDEL', KEYS[1], 'owner', 'lease_until')
  return 1
end
return 0`;

// KEYS[1] entry; ARGV owner token.
const RELEASE = `if ${OWNS} then redis.call('DEL', KEYS[1]) return 1 end
return 0`;

// KEYS[1] entry; ARGV owner token, lease ms.
const RENEW = `${NOW}
if ${OWNS} then redis.call('HSET', KEYS[1], 'lease_until', now + tonumber(ARGV[2])) return 1 end
return 0`;

/** An `IdempotencyStore` on Redis with atomic claims, owner-checked completion and leases renewed while a request runs. */
export function createRedisIdempotencyStore(opts: RedisIdempotencyStoreOptions): IdempotencyStore {
  const { client, keyPrefix, leaseMs } = opts;
  const entryKey = (key: string) => `${keyPrefix}idem:${key}`;
  // Claims this process holds: token → renewal timer.
  const renewals = new Map<string, ReturnType<typeof setInterval>>();

  async function run(script: string, key: string, ...args: string[]): Promise<unknown> {
    try {
      return await client.eval(script, 1, entryKey(key), ...args);
    } catch (err) {
      throw new StateUnavailableError(err);
    }
  }

  function startRenewing(key: string, token: string): void {
    // Renew at a third of the lease: two renewals can fail before another process may take over.
    const timer = setInterval(() => {
      run(RENEW, key, token, String(leaseMs)).then(
        (owned) => {
          if (owned !== 1) {
            stopRenewing(token);
            opts.onRenewFailed?.('lost');
          }
        },
        () => opts.onRenewFailed?.('unreachable'),
      );
    }, Math.max(100, Math.floor(leaseMs / 3)));
    renewals.set(token, timer);
  }

  function stopRenewing(token: string): void {
    const timer = renewals.get(token);
    if (timer !== undefined) clearInterval(timer);
    renewals.delete(token);
  }

  return {
    async begin(key, fingerprint, ttlMs): Promise<BeginResult> {
      const token = crypto.randomUUID();
      const answer = (await run(BEGIN, key, fingerprint, token, String(ttlMs), String(leaseMs))) as [string, string?];
      switch (answer[0]) {
        case 'mismatch':
          return { kind: 'mismatch' };
        case 'in_progress':
          return { kind: 'in_progress' };
        case 'replay':
          return { kind: 'replay', response: JSON.parse(answer[1] ?? '') as StoredResponse };
        case 'started':
          startRenewing(key, token);
          return { kind: 'started', claim: token };
        default:
          throw new StateUnavailableError(new Error(`unexpected answer from Redis: ${String(answer[0])}`));
      }
    },
    async complete(key, response, claim) {
      if (claim === undefined) throw new Error('the Redis store needs the claim from begin()');
      try {
        await run(COMPLETE, key, claim, JSON.stringify(response));
      } finally {
        stopRenewing(claim);
      }
    },
    async release(key, claim) {
      if (claim === undefined) throw new Error('the Redis store needs the claim from begin()');
      try {
        await run(RELEASE, key, claim);
      } finally {
        stopRenewing(claim);
      }
    },
  };
}
