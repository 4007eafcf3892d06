import { Hono } from 'hono';
import { createApp, type AppDeps } from './app.ts';
import { parseConfig, type ConfigInput, type GatewayConfig } from './config.ts';
import { fetchTransport, type HttpTransport } from './shared/http.ts';
import { kratosClientFor } from './kratos/client.ts';
import { instrumentTransport } from './observability/transport.ts';
import { noopTelemetry } from './observability/telemetry.ts';
import { createLogger, type Logger } from './shared/log.ts';

/**
 * The public way in: a gateway (a Hono app) from a typed config, mountable in any Hono app with
 * `app.route(config.server.base_path, gateway)`. Runtimes (src/runtime/) use the same pieces.
 */

/** A service registered as a TypeScript function (config entry `function: name`). */
export type ServiceFunction = NonNullable<AppDeps['serviceFunctions']>[string];
/** What a service function is given: fields, traits, request, identity (after). */
export type ServiceContext = Parameters<ServiceFunction>[0];
/** What a service function returns: `ok`, `rejected` with field errors, or `failed`. */
export type ServiceOutcome = Awaited<ReturnType<ServiceFunction>>;

/** Typed identity: lets editors complete and check config keys. Validation happens in createGateway. */
export function defineConfig(config: ConfigInput): ConfigInput {
  return config;
}

type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface GatewayOptions
  extends Partial<Pick<AppDeps, 'idempotencyStore' | 'rateLimitStore' | 'readiness' | 'retryQueue' | 'peerAddress' | 'now' | 'shutdownSignal' | 'watchClient' | 'setResponseHeader' | 'onLeftBehind' | 'telemetry' | 'docsAssets'>> {
  /** From `defineConfig`, a parsed config, or a plain object; validated with the config schema. */
  config: ConfigInput | GatewayConfig;
  /** Values for `${NAME}` references in the config (the environment on Node, bindings on Workers). */
  env?: Record<string, string | undefined>;
  /** Services registered as functions, for config entries that say `function: name`. */
  serviceFunctions?: Record<string, ServiceFunction>;
  /** JSON-lines logger with redaction at `log.level` by default. */
  logger?: Logger;
  /** How to reach Kratos and HTTP services; the global `fetch` by default. */
  fetch?: FetchLike;
  /** A lower-level transport instead of `fetch` (the Node entry passes undici pools). */
  transport?: HttpTransport;
}

/**
 * Validates the config (throws ConfigError naming every bad key) and builds the gateway app
 * with a Kratos client over `fetch`. Mount it at `server.base_path`.
 */
export function createGateway(options: GatewayOptions) {
  const { config: input, env, fetch: fetchFn, transport: given, logger: givenLogger, ...deps } = options;
  const config = parseConfig(input, env ?? {});
  const transport = instrumentTransport(given ?? fetchTransport(fetchFn ?? ((url, init) => fetch(url, init))), deps.telemetry ?? noopTelemetry, [config.kratos.public_url, config.kratos.admin_url]);
  return createApp({
    ...deps,
    config,
    kratos: kratosClientFor(config, transport),
    logger: givenLogger ?? createLogger({ level: config.log.level }),
    transport,
  });
}

export type Gateway = ReturnType<typeof createGateway>;

/**
 * What a runtime serves: the gateway itself, or (with `server.base_path`) a root app with the
 * gateway mounted there. A path outside the prefix still gets the gateway's problem+json 404.
 */
export function serveAtBasePath(gateway: Gateway, basePath: string): Pick<Hono, 'fetch'> {
  if (!basePath) return gateway;
  const root = new Hono();
  root.route(basePath, gateway);
  // The gateway refuses paths outside its base path itself (404 problem+json, request id).
  root.notFound((c) => gateway.fetch(c.req.raw, c.env));
  return root;
}
