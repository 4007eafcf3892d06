import type { GatewayConfig } from '../config.ts';
import { noopMetrics, noopTracing, type Telemetry } from '../observability/telemetry.ts';
import type { Logger } from '../shared/log.ts';
import type { PromMetrics } from './node-metrics.ts';
import type { NodeTracing } from './node-tracing.ts';

/** Metrics and tracing of a Node process, from `metrics.*` and `tracing.*` (both off by default). */
export interface NodeTelemetry {
  telemetry: Telemetry;
  /** Starts the metrics listener (when enabled); its URL. */
  listen(): Promise<string | undefined>;
  /** Stops the listener and flushes the spans still buffered. */
  close(): Promise<void>;
}

/**
 * prom-client and the OpenTelemetry SDK are loaded only when turned on: together they add about
 * 20 MB of RSS and some start-up time to a process that does not use them.
 */
export async function createNodeTelemetry(config: Pick<GatewayConfig, 'metrics' | 'tracing'>, logger: Logger): Promise<NodeTelemetry> {
  const prom: PromMetrics | undefined = config.metrics.enabled ? (await import('./node-metrics.ts')).createPromMetrics(config.metrics) : undefined;
  const traces: NodeTracing | undefined = config.tracing.enabled ? (await import('./node-tracing.ts')).createNodeTracing(config.tracing) : undefined;
  let server: { url: string; close(): Promise<void> } | undefined;
  return {
    telemetry: { metrics: prom?.metrics ?? noopMetrics, tracing: traces?.tracing ?? noopTracing },
    async listen() {
      if (!prom) return undefined;
      const { startMetricsServer } = await import('./node-metrics.ts');
      server = await startMetricsServer(prom.registry, config.metrics, logger);
      return server.url;
    },
    async close() {
      await server?.close();
      if (!traces) return;
      // An unreachable collector would hold the exit for the exporter's retries (about 10 s).
      let timer: ReturnType<typeof setTimeout> | undefined;
      const gaveUp = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('collector did not answer within 2 s'), 2000)));
      const problem = await Promise.race([traces.close().then(() => undefined, (err: unknown) => (err instanceof Error ? err.message : String(err))), gaveUp]);
      clearTimeout(timer);
      if (problem) logger.warn('spans not exported at shutdown', { error: problem });
    },
  };
}
