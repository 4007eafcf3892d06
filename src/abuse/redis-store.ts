import type { RedisScriptClient } from '../idempotency/redis-store.ts';
import { LimiterUnavailableError, type Counter, type RateLimitStore } from './store.ts';

/**
 * Rate-limit counters on Redis, shared by every instance with the same Redis and `key_prefix`
 * (the client is the one `src/runtime/node-redis.ts` builds for the whole process). Each hit is
 * one Lua script (INCR, PEXPIRE on the first hit, PTTL), so Redis applies it atomically and its
 * own clock decides when windows end.
 */

// KEYS[1] counter; ARGV window ms.
const HIT = `local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local t = redis.call('PTTL', KEYS[1])
if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) t = tonumber(ARGV[1]) end
return {c, t}`;

const PEEK = `local c = redis.call('GET', KEYS[1])
if not c then return false end
return {tonumber(c), redis.call('PTTL', KEYS[1])}`;

const RESET = `return redis.call('DEL', KEYS[1])`;

export interface RedisRateLimitStoreOptions {
  client: RedisScriptClient;
  /** `state.redis.key_prefix`. */
  keyPrefix: string;
}

export function createRedisRateLimitStore(opts: RedisRateLimitStoreOptions): RateLimitStore {
  const { client, keyPrefix } = opts;
  async function run(script: string, key: string, ...args: string[]): Promise<unknown> {
    try {
      return await client.eval(script, 1, `${keyPrefix}rl:${key}`, ...args);
    } catch (err) {
      throw new LimiterUnavailableError(err);
    }
  }
  const counter = (answer: unknown): Counter => {
    const [count, ttl] = answer as [number, number];
    return { count: Number(count), resetMs: Math.max(0, Number(ttl)) };
  };
  return {
    hit: async (key, windowMs) => counter(await run(HIT, key, String(windowMs))),
    peek: async (key) => {
      const answer = await run(PEEK, key);
      return answer ? counter(answer) : undefined;
    },
    reset: async (key) => void (await run(RESET, key)),
  };
}
