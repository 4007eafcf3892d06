import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricsConfig } from '../observability/config.ts';
import type { Metrics } from '../observability/telemetry.ts';
import type { Logger } from '../shared/log.ts';

/**
 * The gateway's metrics with prom-client, on a registry of its own (several gateways in one
 * process, as in tests, do not collide), served in Prometheus text format on a separate
 * listener (`metrics.host`, loopback by default): never on the public port.
 */

const PREFIX = 'kratos_bff_';
// Seconds: a sign-up is a few tens of milliseconds when all is well, seconds when an upstream is slow.
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface PromMetrics {
  metrics: Metrics;
  registry: Registry;
}

/** Builds the metrics; `process_metrics` adds Node's own (CPU, memory, event loop, GC). */
export function createPromMetrics(config: Pick<MetricsConfig, 'process_metrics'>): PromMetrics {
  const registry = new Registry();
  if (config.process_metrics) collectDefaultMetrics({ register: registry });
  const requests = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'Requests answered by the gateway, by method, route pattern and status (the _count series counts them).',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const kratos = new Histogram({
    name: `${PREFIX}kratos_request_duration_seconds`,
    help: 'Calls to Kratos by endpoint template and outcome (status class, timeout or error).',
    labelNames: ['endpoint', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const services = new Histogram({
    name: `${PREFIX}service_call_duration_seconds`,
    help: 'Attempts at external services by service, stage and outcome (ok, rejected, failed).',
    labelNames: ['service', 'stage', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const rollbacks = new Counter({
    name: `${PREFIX}rollbacks_total`,
    help: 'Identities deleted after a failed sign-up (result=ok) or left behind because the delete failed (result=failed).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const idempotency = new Counter({
    name: `${PREFIX}idempotency_total`,
    help: 'Idempotency-Key events: replay (a stored answer replayed), conflict (409, still running), mismatch (422, another body).',
    labelNames: ['event'] as const,
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: `${PREFIX}rate_limited_total`,
    help: 'Requests refused by a rate limit, by route pattern and what was limited.',
    labelNames: ['route', 'key_kind'] as const,
    registers: [registry],
  });
  const gaveUp = new Counter({
    name: `${PREFIX}retry_gave_up_total`,
    help: 'retry_later jobs of the in-memory queue that ran out of attempts (BullMQ keeps them: see kratos_bff_retry_queue_jobs{state="failed"}).',
    labelNames: ['service'] as const,
    registers: [registry],
  });
  const readers: Array<() => Promise<Record<string, number>> | Record<string, number>> = [];
  new Gauge({
    name: `${PREFIX}retry_queue_jobs`,
    help: 'retry_later jobs by state: pending (in-memory queue); waiting, delayed, active, failed (BullMQ; failed is the dead-letter set).',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const read of readers) {
        try {
          for (const [state, n] of Object.entries(await read())) this.set({ state }, n);
        } catch {
          // Redis away: the series are left out of this scrape rather than failing it.
        }
      }
    },
  });

  let readRequests: (() => { running: number; waiting: number }) | undefined;
  new Gauge({
    name: `${PREFIX}requests`,
    help: 'Requests by state: running (started, not answered yet), waiting (held while the event loop is saturated, see server.concurrency_when_busy).',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      if (!readRequests) return;
      const { running, waiting } = readRequests();
      this.set({ state: 'running' }, running);
      this.set({ state: 'waiting' }, waiting);
    },
  });

  // prom-client's label lookup sorts and hashes the label object on every call: keep the
  // children of the hot histograms by one string key instead (label sets are few and bounded).
  const cached = <L extends string>(histogram: Histogram<L>) => {
    const children = new Map<string, ReturnType<Histogram<L>['labels']>>();
    return (values: string[], seconds: number) => {
      const key = values.join('\u0000');
      let child = children.get(key);
      if (!child) children.set(key, (child = histogram.labels(...values)));
      child.observe(seconds);
    };
  };
  const observeRequest = cached(requests);
  const observeKratos = cached(kratos);
  const observeService = cached(services);
  return {
    registry,
    metrics: {
      enabled: true,
      request: (method, route, status, seconds) => observeRequest([method, route, String(status)], seconds),
      kratosCall: (endpoint, outcome, seconds) => observeKratos([endpoint, outcome], seconds),
      serviceCall: (service, stage, outcome, seconds) => observeService([service, stage, outcome], seconds),
      rollback: (result) => rollbacks.labels(result).inc(),
      idempotency: (event) => idempotency.labels(event).inc(),
      rateLimited: (route, keyKind) => rateLimited.labels(route, keyKind).inc(),
      retryGaveUp: (service) => gaveUp.labels(service).inc(),
      watchRetryQueue: (read) => void readers.push(read),
      watchRequests: (read) => void (readRequests = read),
    },
  };
}

/** Serves `registry` at `path` on its own listener; anything else is a 404. */
export async function startMetricsServer(registry: Registry, config: Pick<MetricsConfig, 'host' | 'port' | 'path'>, logger: Logger): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== config.path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        logger.error('metrics scrape failed', { error: err });
        res.writeHead(500, { 'content-type': 'text/plain' }).end('scrape failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${host}:${port}${config.path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
