/**
 * `kratos-bff`: the portable core (Node, Workers, Bun, Deno). Node-only parts are in
 * `kratos-bff/node`, the Cloudflare Workers entry in `kratos-bff/worker`.
 */
export { createGateway, defineConfig, serveAtBasePath, type Gateway, type GatewayOptions, type ServiceContext, type ServiceFunction, type ServiceOutcome } from './gateway.ts';
export { createApp, type AppDeps, type AppEnv } from './app.ts';
export { ConfigError, configSchema, parseConfig, type ConfigInput, type GatewayConfig } from './config.ts';
export { fetchTransport, TransportError, type HttpRequest, type HttpResponse, type HttpTransport } from './shared/http.ts';
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './shared/log.ts';
export { kratosClientFor } from './kratos/client.ts';

/** The Kratos port `createApp` takes (a fake in tests, `kratosClientFor` otherwise). */
export type KratosPort = import('./app.ts').AppDeps['kratos'];
/** Idempotency-Key store: in memory by default; it only ever sees ciphertext. */
export type IdempotencyStore = NonNullable<import('./app.ts').AppDeps['idempotencyStore']>;
/** Where `retry_later` services go; in memory (not durable) by default. */
export type RetryQueue = NonNullable<import('./app.ts').AppDeps['retryQueue']>;
// Abuse resistance: rate-limit stores, and the one-line opt-in for a route.
export { createMemoryRateLimitStore, LimiterUnavailableError, type Counter, type RateLimitStore } from './abuse/store.ts';
export { createRedisRateLimitStore, type RedisRateLimitStoreOptions } from './abuse/redis-store.ts';
export { enforceRateLimit, beginLoginAttempt, type LoginAttempt } from './abuse/limit.ts';
export type { AbuseConfig, RateLimitedRoute } from './abuse/config.ts';
export { noopTelemetry, type Telemetry, type Metrics, type Tracing, type SpanScope } from './observability/telemetry.ts';
