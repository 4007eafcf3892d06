import type { GatewayConfig } from '../config.ts';
import { noopMetrics, noopTracing, type Telemetry } from '../observability/telemetry.ts';
import type { Logger } from '../shared/log.ts';
import { createPromMetrics, startMetricsServer, type PromMetrics } from './node-metrics.ts';
import { createNodeTracing, type NodeTracing } from './node-tracing.ts';

/** Metrics and tracing of a Node process, from `metrics.*` and `tracing.*` (both off by default). */
export interface NodeTelemetry {
  telemetry: Telemetry;
  /** Starts the metrics listener (when enabled); its URL. */
  listen(): Promise<string | undefined>;
  /** Stops the listener and flushes the spans still buffered. */
  close(): Promise<void>;
}

export function createNodeTelemetry(config: Pick<GatewayConfig, 'metrics' | 'tracing'>, logger: Logger): NodeTelemetry {
  const prom: PromMetrics | undefined = config.metrics.enabled ? createPromMetrics(config.metrics) : undefined;
  const traces: NodeTracing | undefined = config.tracing.enabled ? createNodeTracing(config.tracing) : undefined;
  let server: { url: string; close(): Promise<void> } | undefined;
  return {
    telemetry: { metrics: prom?.metrics ?? noopMetrics, tracing: traces?.tracing ?? noopTracing },
    async listen() {
      if (!prom) return undefined;
      server = await startMetricsServer(prom.registry, config.metrics, logger);
      return server.url;
    },
    async close() {
      await server?.close();
      await traces?.close().catch((err: unknown) => logger.warn('spans not exported at shutdown', { error: err instanceof Error ? err.message : String(err) }));
    },
  };
}
