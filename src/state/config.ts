import { z } from 'zod';

/**
 * Where state shared by all instances lives. `memory` (the default) keeps it per process, as
 * before; `redis` shares Idempotency-Keys between every process that uses the same Redis.
 */

/** `redis://` or `rediss://` (TLS), with optional `user:password@`; never echoed in errors (it can hold the password). */
const redisUrl = z.string().refine(
  (value) => {
    try {
      const u = new URL(value);
      return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: 'must be a redis:// or rediss:// URL (redis://[user:password@]host[:port][/db])' },
);

export const redisConfigSchema = z
  .object({
    url: redisUrl,
    /** Prefix of every key the gateway writes, so several gateways (or apps) can share a Redis. */
    key_prefix: z.string().min(1).max(64).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').default('kbff:'),
    /** How long (re)connecting may take before the attempt counts as failed. */
    connect_timeout_ms: z.number().int().min(100).max(60_000).default(2_000),
    /**
     * How long one command may take. Commands also fail at once while disconnected (no offline
     * queue), so a request never hangs on a Redis that went away.
     */
    command_timeout_ms: z.number().int().min(50).max(60_000).default(1_000),
    /**
     * Whether the gateway process also runs the worker of the durable `retry_later` queue.
     * `false` when separate `kratos-bff worker` processes (same config) run it instead.
     */
    workers: z.boolean().default(true),
  })
  .strict();

export const stateConfigSchema = z
  .object({
    backend: z.enum(['memory', 'redis']).default('memory'),
    redis: redisConfigSchema.optional(),
  })
  .strict();

export type StateConfig = z.output<typeof stateConfigSchema>;
export type RedisConfig = z.output<typeof redisConfigSchema>;

/** The URL with its password replaced, for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
