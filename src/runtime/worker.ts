import type { ExecutionContext } from 'hono';
import { createApp } from '../app.ts';
import { parseConfig } from '../config.ts';
import type { DocsAssetSource } from '../docs/config.ts';
import { serveAtBasePath } from '../gateway.ts';
import { fetchTransport } from '../shared/http.ts';
import { durableObjectIdempotencyStore, IdempotencyObject, type DurableObjectNamespaceLike } from '../idempotency/durable-object.ts';
import { kratosClientFor } from '../kratos/client.ts';
import { durableObjectRateLimitStore, RateLimitObject, type RateLimitNamespaceLike } from '../abuse/durable-object.ts';
import { createServiceRunner } from '../services/runner.ts';
import { createLogger } from '../shared/log.ts';
import { cloudflareRetryQueue, createRetryConsumer, isQueueProducer, type MessageBatchLike, type QueueProducerLike } from './worker-retry-queue.ts';

/**
 * Cloudflare Workers entry. The config comes from the `GATEWAY_CONFIG` binding (a JSON object
 * var in wrangler.toml, or a JSON string): the same schema as the YAML file on Node. `${NAME}`
 * references in it are resolved against the other string bindings (vars and secrets). The app
 * is built once per isolate, on the first request, never per request.
 *
 * With a `RETRY_LATER` Queue producer binding, `retry_later` jobs are sent to that Cloudflare
 * Queue and run by this Worker's `queue()` handler (wrangler.toml); without it they stay in the
 * isolate's memory queue, kept alive by `waitUntil`.
 */
export interface WorkerBindings {
  GATEWAY_CONFIG: string | Record<string, unknown>;
  /** Durable Object namespace for the Idempotency-Key store (see wrangler.toml). */
  IDEMPOTENCY?: DurableObjectNamespaceLike;
  /** Durable Object namespace for rate-limit and failed-login counters (see wrangler.toml). */
  RATE_LIMITS?: RateLimitNamespaceLike;
  /** Optional Queue producer for durable `retry_later` jobs (see wrangler.toml). */
  RETRY_LATER?: QueueProducerLike;
  /** Wrangler static assets (`[assets]` in wrangler.toml): the docs page's renderer files. */
  ASSETS?: { fetch(request: Request): Promise<Response> };
  [binding: string]: unknown;
}

interface Built {
  app: ReturnType<typeof serveAtBasePath>;
  consume: (batch: MessageBatchLike) => Promise<void>;
}

let built: Built | undefined;

function build(env: WorkerBindings): Built {
  const raw = typeof env.GATEWAY_CONFIG === 'string' ? JSON.parse(env.GATEWAY_CONFIG) : env.GATEWAY_CONFIG;
  const strings = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const config = parseConfig(raw, strings);
  const transport = fetchTransport((input, init) => fetch(input, init));
  const kratos = kratosClientFor(config, transport);
  const logger = createLogger({ level: config.log.level });
  const producer = isQueueProducer(env.RETRY_LATER) ? env.RETRY_LATER : undefined;
  const gateway = createApp({
    config,
    kratos,
    logger,
    transport,
    // Per-isolate memory would let two isolates both run the same key.
    ...(env.IDEMPOTENCY ? { idempotencyStore: durableObjectIdempotencyStore(env.IDEMPOTENCY) } : {}),
    // Rate limits across isolates: per-isolate memory would grant each isolate the full limit.
    ...(env.RATE_LIMITS ? { rateLimitStore: durableObjectRateLimitStore(env.RATE_LIMITS) } : {}),
    // A Cloudflare Queue outlives the isolate and waitUntil's ~30 s; without it, the memory queue.
    ...(producer ? { retryQueue: cloudflareRetryQueue(producer, config) } : {}),
    // Set by Cloudflare's edge, not by the client (Cloudflare overwrites a client-sent one), so it
    // is the peer: `server.trusted_proxies` stays unset on Workers unless another proxy sits in front.
    peerAddress: (c) => c.req.header('cf-connecting-ip'),
    ...(env.ASSETS ? { docsAssets: workerDocsAssets(env.ASSETS) } : {}),
  });
  const runner = createServiceRunner({ services: config.registration.services, transport, logger });
  return { app: serveAtBasePath(gateway, config.server.base_path), consume: createRetryConsumer({ runner, config, logger }) };
}

/** The docs page's renderer files from static assets: kept out of the script, which has a size budget. */
function workerDocsAssets(assets: NonNullable<WorkerBindings['ASSETS']>): DocsAssetSource {
  return async (name) => {
    const res = await assets.fetch(new Request(`https://assets.invalid/${name}`));
    return res.ok ? res.body : null;
  };
}

export { IdempotencyObject, RateLimitObject };

export default {
  fetch(request: Request, env: WorkerBindings, ctx: ExecutionContext): Response | Promise<Response> {
    built ??= build(env);
    return built.app.fetch(request, env, ctx);
  },
  /** The consumer of the `RETRY_LATER` queue: runs each `retry_later` job through the service runner. */
  async queue(batch: MessageBatchLike, env: WorkerBindings): Promise<void> {
    built ??= build(env);
    await built.consume(batch);
  },
};
