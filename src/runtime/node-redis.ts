import { Redis } from 'ioredis';
import type { RedisScriptClient } from '../idempotency/redis-store.ts';
import type { Logger } from '../shared/log.ts';
import { redactRedisUrl, type RedisConfig } from '../state/config.ts';

/** Redis could not be reached at start; the message names `state.redis.url` (password hidden). */
export class RedisStartError extends Error {
  constructor(url: string, cause: unknown) {
    super(`state.redis.url: cannot reach Redis at ${redactRedisUrl(url)}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'RedisStartError';
  }
}

export interface NodeRedis {
  client: RedisScriptClient;
  /** PING within the command timeout; false while disconnected. */
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Connects to Redis (ioredis) and waits for the first PING, or throws RedisStartError. While
 * connected later, a lost connection is retried forever in the background; meanwhile every
 * command fails at once (no offline queue, no per-request retries), so callers fail closed
 * quickly instead of hanging, and recover by themselves once Redis is back.
 */
export async function connectRedis(config: RedisConfig, logger: Logger): Promise<NodeRedis> {
  const redis = new Redis(config.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: config.connect_timeout_ms,
    commandTimeout: config.command_timeout_ms,
    // Reconnect quickly at first, then every second at most.
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
  // Log transitions only, never the URL (it can hold the password).
  let down = false;
  let closing = false;
  const lost = (error: string) => {
    if (down || closing) return;
    down = true;
    logger.warn('redis unavailable; sign-ups with an Idempotency-Key answer 503 until it is back', { error });
  };
  redis.on('error', (err: Error) => lost(err.message));
  redis.on('close', () => lost('connection closed'));
  let started = false;
  redis.on('ready', () => {
    if (!started || !down) return;
    down = false;
    logger.info('redis available again');
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection within ${config.connect_timeout_ms} ms`)), config.connect_timeout_ms + 500);
      redis.connect().then(
        () => (clearTimeout(timer), resolve()),
        (err: unknown) => (clearTimeout(timer), reject(err as Error)),
      );
    });
    await redis.ping();
    started = true;
    down = false;
  } catch (err) {
    redis.disconnect();
    throw new RedisStartError(config.url, err);
  }
  return {
    client: { eval: (script, numKeys, ...args) => redis.eval(script, numKeys, ...args) },
    isReady: () => redis.ping().then((pong) => pong === 'PONG', () => false),
    close: async () => {
      closing = true;
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
