import { z } from 'zod';

/**
 * `metrics` and `tracing` (Node only: the Workers entry ignores both). Both are off by default.
 * Metrics are served on their own loopback listener, never on the public port; traces go to an
 * OTLP/HTTP collector.
 */

export const metricsConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** The metrics listener's address: loopback by default, so only the host (or a sidecar) scrapes it. */
    host: z.string().min(1).default('127.0.0.1'),
    /** 9464 is the usual Prometheus exporter port of OpenTelemetry; 0 picks a free one. */
    port: z.number().int().min(0).max(65_535).default(9464),
    path: z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, 'must be a path like /metrics').default('/metrics'),
    /** Node's process metrics (CPU, memory, event-loop lag, GC) besides the gateway's own. */
    process_metrics: z.boolean().default(true),
  })
  .strict()
  .prefault({});

export const tracingConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /**
     * OTLP/HTTP base URL (`/v1/traces` is appended), like OTEL_EXPORTER_OTLP_ENDPOINT. Unset:
     * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then OTEL_EXPORTER_OTLP_ENDPOINT, then
     * http://localhost:4318 (read by the exporter itself).
     */
    otlp_endpoint: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .transform((u) => u.replace(/\/+$/, ''))
      .optional(),
    service_name: z.string().min(1).default('kratos-bff'),
    /** Share of new traces recorded (a continued trace follows its parent's decision). */
    sample_ratio: z.number().min(0).max(1).default(1),
    /**
     * Continue the trace of an incoming `traceparent`. Off by default: the gateway faces the
     * internet, and a client could pick trace ids or force sampling. Turn it on when a proxy
     * you run in front sets (or strips) the header.
     */
    trust_incoming_traceparent: z.boolean().default(false),
  })
  .strict()
  .prefault({});

export type MetricsConfig = z.infer<typeof metricsConfigSchema>;
export type TracingConfig = z.infer<typeof tracingConfigSchema>;
