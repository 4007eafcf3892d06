import { serve, type ServerType } from '@hono/node-server';
import { setNodeResponseHeader, watchNodeClient } from './node-client.ts';
import { getConnInfo } from '@hono/node-server/conninfo';
import { setMaxListeners } from 'node:events';
import { parseArgs } from 'node:util';
import { createApp } from '../app.ts';
import { ConfigError, parseConfig, type ConfigInput, type GatewayConfig } from '../config.ts';
import { serveAtBasePath } from '../gateway.ts';
import type { HttpTransport } from '../shared/http.ts';
import type { ServiceFunction } from '../services/runner.ts';
import { kratosClientFor } from '../kratos/client.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { loadConfigFile } from './node-config.ts';
import { answerClientErrors, createProblemServer, nodeServerOptions } from './node-server-limits.ts';
import { createAdmission } from './node-admission.ts';
import type { createServer } from 'node:http';
import { createUndiciTransport } from './node-transport.ts';
import type { NodeRedis } from './node-redis.ts';
import { createRedisIdempotencyStore } from '../idempotency/redis-store.ts';
import { createRedisRateLimitStore } from '../abuse/redis-store.ts';
import { createServiceRunner } from '../services/runner.ts';
import type { DurableRetryQueue, RetryWorker } from './node-retry-queue.ts';
import { instrumentTransport } from '../observability/transport.ts';
import type { Telemetry } from '../observability/telemetry.ts';
import { createNodeTelemetry } from './node-telemetry.ts';
import { nodeDocsAssets } from './node-docs-assets.ts';

export interface NodeGateway {
  server: ServerType;
  /** The port actually bound (useful with port 0). */
  port: number;
  url: string;
  /** The metrics listener's URL, when `metrics.enabled`. */
  metricsUrl: string | undefined;
  /**
   * Stops accepting and waits for in-flight requests up to `server.shutdown_timeout_ms`; past
   * that deadline it aborts them, so sign-ups roll back what they created and answer 503, and
   * gives them `server.shutdown_abort_grace_ms` to do so. Then closes every socket and pool.
   */
  close(): Promise<ShutdownReport>;
}

export interface ShutdownReport {
  /** Requests still running at the drain deadline, aborted on purpose. */
  aborted: number;
  /** Identities (or unknown outcomes) a failed rollback left behind; the process exits 1 if any. */
  leftBehind: number;
}

export interface NodeGatewayOptions {
  logger?: Logger;
  /** Wraps the upstream transport (tests use it to delay or observe calls to Kratos). */
  wrapTransport?: (transport: HttpTransport) => HttpTransport;
  /** Services registered as functions (config entries with `function: name`). */
  serviceFunctions?: Record<string, ServiceFunction>;
}

/** Builds the app with real parts (undici pools) and serves it (at `server.base_path`). */
export async function startNodeGateway(input: GatewayConfig | ConfigInput, options: NodeGatewayOptions = {}): Promise<NodeGateway> {
  const config = parseConfig(input, process.env);
  const logger = options.logger ?? createLogger({ level: config.log.level });
  // Shared state first: an unreachable Redis is a startup error, before anything is served.
  const redisConfig = config.state.backend === 'redis' ? config.state.redis : undefined;
  const redis: NodeRedis | undefined = redisConfig ? await (await loadRedis()).connectRedis(redisConfig, logger) : undefined;
  const upstream = createUndiciTransport();
  const observability = await createNodeTelemetry(config, logger);
  const { telemetry } = observability;
  // Kratos calls get spans and metrics, every upstream call its traceparent.
  const transport = instrumentTransport(options.wrapTransport ? options.wrapTransport(upstream.transport) : upstream.transport, telemetry, [config.kratos.public_url, config.kratos.admin_url]);
  const kratos = kratosClientFor(config, transport);
  // retry_later on Redis: a durable BullMQ queue, and its worker here unless `state.redis.workers: false`.
  let retryQueue: DurableRetryQueue | undefined;
  let retryWorker: RetryWorker | undefined;
  if (redis && redisConfig) {
    try {
      const { createDurableRetryQueue, startRetryWorker } = await loadRetryQueue();
      retryQueue = await createDurableRetryQueue(config, redisConfig, logger);
      if (redisConfig.workers) retryWorker = await startRetryWorker(config, redisConfig, serviceRunnerFor(config, transport, logger, options.serviceFunctions, telemetry), logger);
    } catch (err) {
      await retryQueue?.close();
      await redis.close();
      await upstream.close();
      throw err;
    }
    const durable = retryQueue;
    // The failed set is the dead-letter set.
    telemetry.metrics.watchRetryQueue(() => durable.queue.getJobCounts('waiting', 'delayed', 'active', 'failed'));
  }
  let metricsUrl: string | undefined;
  try {
    metricsUrl = await observability.listen();
  } catch (err) {
    await retryWorker?.close(0);
    await retryQueue?.close();
    await redis?.close();
    await upstream.close();
    throw err;
  }
  const shutdown = new AbortController();
  // Every in-flight sign-up listens on it: more than Node's default of 10 is normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  let leftBehind = 0;
  const app = createApp({
    config,
    kratos,
    logger,
    transport,
    ...(options.serviceFunctions ? { serviceFunctions: options.serviceFunctions } : {}),
    ...(retryQueue ? { retryQueue } : {}),
    peerAddress: (c) => getConnInfo(c).remote.address,
    ...(redis && redisConfig
      ? {
          idempotencyStore: createRedisIdempotencyStore({
            client: redis.client,
            keyPrefix: redisConfig.key_prefix,
            leaseMs: config.idempotency.lease_ms,
            onRenewFailed: (reason) => logger.warn('idempotency lease not renewed', { reason }),
          }),
          // Rate limits and failed-login counters on the same Redis client.
          rateLimitStore: createRedisRateLimitStore({ client: redis.client, keyPrefix: redisConfig.key_prefix }),
          readiness: { redis: redis.isReady },
        }
      : {}),
    shutdownSignal: shutdown.signal,
    watchClient: watchNodeClient,
    setResponseHeader: setNodeResponseHeader,
    onLeftBehind: () => void leftBehind++,
    telemetry,
    ...(config.docs.enabled ? { docsAssets: nodeDocsAssets() } : {}),
  });
  const inFlight = trackInFlight(serveAtBasePath(app, config.server.base_path).fetch);
  const admission = createAdmission({ limit: config.server.concurrency_when_busy });
  telemetry.metrics.watchRequests(() => ({ running: admission.running(), waiting: admission.waiting() }));
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve(
      {
        fetch: inFlight.fetch,
        hostname: config.server.host,
        port: config.server.port,
        serverOptions: nodeServerOptions(config.server),
        createServer: createProblemServer(inFlight.fetch, config.server.host, logger, admission) as unknown as typeof createServer,
      },
      () => resolve(s),
    );
    answerClientErrors(s, logger);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  let closing: Promise<ShutdownReport> | undefined;
  return {
    server,
    port,
    metricsUrl,
    url: `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`,
    close: () =>
      (closing ??= (async () => {
        const srv = server as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
        // The retry worker stops taking jobs now; a running one may finish within the drain deadline.
        const workerClosed = retryWorker?.close(config.server.shutdown_timeout_ms);
        // Requests waiting for their turn (a saturated event loop) start now and drain with the rest.
        admission.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Sockets of drained requests go idle after close() was called; keep closing them,
        // or keep-alive would hold the server open until its own timeout.
        const sweep = setInterval(() => srv.closeIdleConnections?.(), 50);
        srv.closeIdleConnections?.();
        let aborted = 0;
        if (!(await inFlight.idle(config.server.shutdown_timeout_ms))) {
          // Cutting the sockets now would leave identities without their after-steps: abort the
          // work instead, so each sign-up rolls back and its client gets a 503 to retry elsewhere.
          aborted = inFlight.count();
          logger.warn('shutdown deadline reached; aborting in-flight requests', { in_flight: aborted });
          shutdown.abort(new DOMException('the gateway is shutting down', 'AbortError'));
          // Cut their service calls now; Kratos calls finish (a submit cut short would leave its
          // outcome unknown, and the rollbacks need the admin API).
          upstream.abortAllExcept([config.kratos.public_url, config.kratos.admin_url]);
          if (!(await inFlight.idle(config.server.shutdown_abort_grace_ms))) {
            logger.error('requests still running after the abort grace; closing their sockets', { in_flight: inFlight.count() });
          }
        }
        // The last answers are written by now or within moments; then nothing may hold the process.
        const flushed = await Promise.race([closed.then(() => true), sleep(1000).then(() => false)]);
        if (!flushed) srv.closeAllConnections?.();
        clearInterval(sweep);
        await workerClosed;
        await retryQueue?.close();
        await upstream.close();
        await redis?.close();
        await observability.close();
        if (leftBehind > 0) logger.error('shutdown left identities behind (see ROLLBACK FAILED lines)', { count: leftBehind });
        return { aborted, leftBehind };
      })()),
  };
}

function serviceRunnerFor(config: GatewayConfig, transport: HttpTransport, logger: Logger, functions: Record<string, ServiceFunction> | undefined, telemetry?: Telemetry) {
  return createServiceRunner({ services: config.registration.services, ...(functions ? { functions } : {}), transport, logger, ...(telemetry ? { telemetry } : {}) });
}

/**
 * A worker process (`kratos-bff worker --config gateway.yaml`): runs only the durable
 * `retry_later` worker, no HTTP server. Needs `state.backend: redis`.
 */
export async function startNodeRetryWorker(input: GatewayConfig | ConfigInput, options: Pick<NodeGatewayOptions, 'logger' | 'serviceFunctions'> = {}): Promise<{ close(): Promise<void> }> {
  const config = parseConfig(input, process.env);
  const logger = options.logger ?? createLogger({ level: config.log.level });
  if (config.state.backend !== 'redis' || !config.state.redis) {
    throw new ConfigError(['state.backend: the worker process needs redis (with memory, retry_later jobs run inside the gateway process)']);
  }
  const { startRetryWorker } = await loadRetryQueue();
  const upstream = createUndiciTransport();
  const worker = await startRetryWorker(config, config.state.redis, serviceRunnerFor(config, upstream.transport, logger, options.serviceFunctions), logger).catch(async (err: unknown) => {
    await upstream.close();
    throw err;
  });
  return {
    close: async () => {
      await worker.close(config.server.shutdown_timeout_ms);
      await upstream.close();
    },
  };
}

// ioredis and BullMQ (with luxon, msgpackr and cron-parser about 1.5 MB of the bundle) are loaded
// only with `state.backend: redis`; the build splits them into chunks of their own, so the
// memory backend neither parses nor keeps their code (see scripts/build.ts).
const loadRedis = () => import('./node-redis.ts');
const loadRetryQueue = () => import('./node-retry-queue.ts');

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Counts requests inside the app, so shutdown knows when they are done. */
function trackInFlight(fetch: (req: Request, env?: unknown) => Response | Promise<Response>) {
  let count = 0;
  let waiters: Array<() => void> = [];
  const done = () => {
    if (--count === 0) for (const wake of waiters.splice(0)) wake();
  };
  return {
    count: () => count,
    // No async frame: a `then` on the app's own promise (one promise per request less).
    fetch: (req: Request, env?: unknown): Response | Promise<Response> => {
      count++;
      let res: Response | Promise<Response>;
      try {
        res = fetch(req, env);
      } catch (err) {
        done();
        throw err;
      }
      if (!(res instanceof Promise)) {
        done();
        return res;
      }
      return res.then(
        (answer) => (done(), answer),
        (err: unknown) => {
          done();
          throw err;
        },
      );
    },
    /** True once nothing is in flight, false if `ms` pass first. */
    idle: (ms: number): Promise<boolean> =>
      count === 0
        ? Promise.resolve(true)
        : new Promise<boolean>((resolve) => {
            const wake = () => {
              clearTimeout(timer);
              resolve(true);
            };
            const timer = setTimeout(() => {
              waiters = waiters.filter((w) => w !== wake);
              resolve(false);
            }, ms);
            waiters.push(wake);
          }),
  };
}

/** The standalone service: `--config gateway.yaml`; exit 2 on a bad config. */
export async function main(args: string[] = process.argv.slice(2)): Promise<void> {
  const config = configFromArgs(args);
  const logger = createLogger({ level: config.log.level });
  let gateway: NodeGateway;
  try {
    gateway = await startNodeGateway(config, { logger });
  } catch (err) {
    if (config.state.backend === 'redis' && err instanceof (await loadRedis()).RedisStartError) {
      console.error(`kratos-bff: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  logger.info('listening', { url: gateway.url, kratos_public_url: config.kratos.public_url });
  const stop = (signal: string) => {
    logger.info('shutting down', { signal });
    void gateway.close().then((report) => process.exit(report.leftBehind > 0 ? 1 : 0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

/** Loads `--config` (exit 2 on a bad config). */
export function configFromArgs(args: string[]): GatewayConfig {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c', default: 'config/gateway.yaml' } } });
  try {
    return loadConfigFile(values.config!);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`kratos-bff: ${values.config}: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}

/** `kratos-bff worker --config gateway.yaml`: the retry worker alone, until SIGTERM/SIGINT. */
export async function workerMain(args: string[]): Promise<void> {
  const config = configFromArgs(args);
  const logger = createLogger({ level: config.log.level });
  let worker: { close(): Promise<void> };
  try {
    worker = await startNodeRetryWorker(config, { logger });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`kratos-bff: ${err.message}`);
      process.exit(2);
    }
    console.error(`kratos-bff: ${(err as Error).message}`);
    process.exit(1);
  }
  logger.info('retry worker running', { queue: 'retry-later' });
  const stop = (signal: string) => {
    logger.info('shutting down', { signal });
    void worker.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

/** `kratos-bff dead-letters --config gateway.yaml list | redrive <jobId|--all>`. */
export async function deadLettersMain(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { config: { type: 'string', short: 'c', default: 'config/gateway.yaml' }, all: { type: 'boolean' } } });
  const config = configFromArgs(['--config', values.config!]);
  const { deadLetters } = await loadRetryQueue();
  const code = await deadLetters(config, values.all ? [positionals[0] ?? '', '--all'] : positionals, (line) => console.log(line));
  process.exit(code);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
