import type { Context } from 'hono';
import type { RequestIdVariables } from 'hono/request-id';
import type { ReturnToPolicy } from './after-jobs/return-to.ts';
import type { AbuseGuard } from './abuse/guard.ts';
import type { RateLimitStore } from './abuse/store.ts';
import type { GatewayConfig } from './config.ts';
import type { DocsAssetSource } from './docs/config.ts';
import type { IdempotencyStore } from './idempotency/store.ts';
import type { KratosPort } from './kratos/port.ts';
import type { Telemetry } from './observability/telemetry.ts';
import type { RetryQueue } from './services/retry-queue.ts';
import type { ServiceFunction, ServiceRunner } from './services/runner.ts';
import type { SessionCookies } from './session/cookie.ts';
import type { RequestAbort } from './shared/abort.ts';
import type { HttpTransport } from './shared/http.ts';
import type { Logger } from './shared/log.ts';

/** What a runtime hands to `createApp`: real parts on Node/Workers, fakes in unit tests. */
export interface AppDeps {
  config: GatewayConfig;
  kratos: KratosPort;
  logger: Logger;
  /** Milliseconds since the epoch; pinned in tests. */
  now?: () => number;
  /** The connection's peer address as the runtime sees it (Node: socket; Workers: CF-Connecting-IP). */
  peerAddress?: (c: Context) => string | undefined;
  /** HTTP to external services (undici on Node, fetch on Workers). */
  transport: HttpTransport;
  /** Services registered as TypeScript functions, for config entries that say `function: name`. */
  serviceFunctions?: Record<string, ServiceFunction>;
  /** Idempotency-Key store; in-memory by default. Whatever it keeps is encrypted first. */
  idempotencyStore?: IdempotencyStore;
  /** Where `retry_later` services go; an in-memory queue by default (not durable). */
  retryQueue?: RetryQueue;
  /** Rate-limit and failed-login counters (src/abuse/); in-memory by default, Redis or a Durable Object when shared. */
  rateLimitStore?: RateLimitStore;
  /** Extra readiness probes for `/health/ready`, by name (the Node entry adds `redis`). */
  readiness?: Record<string, () => Promise<boolean>>;
  /**
   * Aborted by the runtime at its shutdown deadline: in-flight sign-ups stop, roll back what
   * they created and answer 503 instead of being cut off.
   */
  shutdownSignal?: AbortSignal;
  /**
   * Calls `gone` when the client's connection closes before its answer is written, and returns
   * how to stop watching. The Node entry watches the socket (cheaper than the request's
   * AbortSignal); by default the request's own `signal` is watched.
   */
  watchClient?: (c: Context, gone: () => void) => () => void;
  /**
   * Sets a header on whatever response the request gets (`X-Request-Id`). By default Hono's
   * `c.header()`; the Node entry sets it on the ServerResponse, which costs no Headers object.
   */
  setResponseHeader?: (c: Context, name: string, value: string) => void;
  /** Told about every identity a failed rollback left behind (the Node entry exits non-zero then). */
  onLeftBehind?: (identityId: string | undefined) => void;
  /** Metrics and traces (the Node entry builds them from `metrics`/`tracing`); off by default. */
  telemetry?: Telemetry;
  /** The docs page's renderer files (`docs.enabled`): node_modules on Node, static assets on Workers. */
  docsAssets?: DocsAssetSource;
}

/**
 * `AppDeps` with every default filled in, once, by `createApp`: the one place config and
 * dependencies reach routes from (`c.get('gateway')`). Orchestration functions get explicit
 * pieces of it, never the context.
 */
export interface Gateway {
  config: GatewayConfig;
  kratos: KratosPort;
  logger: Logger;
  now: () => number;
  peerAddress: (c: Context) => string | undefined;
  services: ServiceRunner;
  retryQueue: RetryQueue;
  readiness: Record<string, () => Promise<boolean>>;
  /** Resolves once (the encrypting wrapper derives its keys on first use). */
  idempotency: () => Promise<IdempotencyStore>;
  /** Session cookie sealing; undefined without `secrets.session`. */
  cookies: SessionCookies | undefined;
  returnToPolicy: ReturnToPolicy;
  /** Rate limits, brute-force counters, equal timing, trusted proxies (src/abuse/). */
  abuse: AbuseGuard;
  shutdownSignal: AbortSignal | undefined;
  /** Aborts of the requests in flight, for the shutdown signal to reach (see `requestSignal`). */
  inFlight: Set<RequestAbort>;
  watchClient: (c: Context, gone: () => void) => () => void;
  setResponseHeader: (c: Context, name: string, value: string) => void;
  onLeftBehind: (identityId: string | undefined) => void;
  telemetry: Telemetry;
}

export type AppEnv = {
  Variables: RequestIdVariables & {
    gateway: Gateway;
    /** Request-scoped logger carrying the request id. */
    log: Logger;
  };
};

export type AppContext = Context<AppEnv>;
