import type { ExecutionContext } from 'hono';
import { createApp } from '../app.ts';
import { parseConfig } from '../config.ts';
import { serveAtBasePath } from '../gateway.ts';
import { fetchTransport } from '../shared/http.ts';
import { durableObjectIdempotencyStore, IdempotencyObject, type DurableObjectNamespaceLike } from '../idempotency/durable-object.ts';
import { kratosClientFor } from '../kratos/client.ts';
import { createLogger } from '../shared/log.ts';

/**
 * Cloudflare Workers entry. The config comes from the `GATEWAY_CONFIG` binding (a JSON object
 * var in wrangler.toml, or a JSON string): the same schema as the YAML file on Node. `${NAME}`
 * references in it are resolved against the other string bindings (vars and secrets). The app
 * is built once per isolate, on the first request, never per request.
 */
export interface WorkerBindings {
  GATEWAY_CONFIG: string | Record<string, unknown>;
  /** Durable Object namespace for the Idempotency-Key store (see wrangler.toml). */
  IDEMPOTENCY?: DurableObjectNamespaceLike;
  [binding: string]: unknown;
}

let app: ReturnType<typeof serveAtBasePath> | undefined;

function build(env: WorkerBindings): ReturnType<typeof serveAtBasePath> {
  const raw = typeof env.GATEWAY_CONFIG === 'string' ? JSON.parse(env.GATEWAY_CONFIG) : env.GATEWAY_CONFIG;
  const strings = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const config = parseConfig(raw, strings);
  const transport = fetchTransport((input, init) => fetch(input, init));
  const kratos = kratosClientFor(config, transport);
  const gateway = createApp({
    config,
    kratos,
    logger: createLogger({ level: config.log.level }),
    transport,
    // Per-isolate memory would let two isolates both run the same key.
    ...(env.IDEMPOTENCY ? { idempotencyStore: durableObjectIdempotencyStore(env.IDEMPOTENCY) } : {}),
    // Set by Cloudflare's edge, not by the client.
    peerAddress: (c) => c.req.header('cf-connecting-ip'),
  });
  return serveAtBasePath(gateway, config.server.base_path);
}

export { IdempotencyObject };

export default {
  fetch(request: Request, env: WorkerBindings, ctx: ExecutionContext): Response | Promise<Response> {
    app ??= build(env);
    return app.fetch(request, env, ctx);
  },
};
