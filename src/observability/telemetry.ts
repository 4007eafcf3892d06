import type { LogFields } from '../shared/log.ts';

/**
 * What the portable core tells about itself: metrics and traces, behind two small interfaces.
 * The core never imports prom-client or an OpenTelemetry SDK: the Node entry passes real ones
 * (src/runtime/node-metrics.ts, node-tracing.ts); Workers and unit tests get the no-ops below.
 * Labels and attributes are route patterns, endpoint templates, service names and outcomes:
 * never a raw path, an id, a header value, a body or anything a client typed.
 */

export type SpanAttributes = Record<string, string | number | boolean>;

/** The span a piece of work runs in. */
export interface SpanScope {
  setAttributes(attributes: SpanAttributes): void;
  updateName(name: string): void;
  /** Marks the span as failed (status ERROR). */
  fail(): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /**
   * Runs `fn` in a server span for one incoming request; `header` reads the request's headers
   * (the runtime decides whether an incoming `traceparent` is trusted).
   */
  request<T>(name: string, header: (name: string) => string | undefined, fn: (span: SpanScope) => Promise<T>): Promise<T>;
  /** Runs `fn` in a client span, a child of the current one. */
  span<T>(name: string, attributes: SpanAttributes, fn: (span: SpanScope) => Promise<T>): Promise<T>;
  /** Writes `traceparent` (and `tracestate`) of the current span into outgoing headers. */
  inject(headers: Record<string, string>): void;
  /** `trace_id` and `span_id` of the current span for log lines; undefined outside a span. */
  logFields(): LogFields | undefined;
}

/** Outcome of an upstream HTTP call: the status class, or why there was no answer. */
export type CallOutcome = '2xx' | '3xx' | '4xx' | '5xx' | 'timeout' | 'error';

export interface Metrics {
  readonly enabled: boolean;
  /** One answered request: `route` is the matched route pattern (or `unmatched`). */
  request(method: string, route: string, status: number, seconds: number): void;
  /** One call to Kratos: `endpoint` is a template like `GET /sessions/whoami`. */
  kratosCall(endpoint: string, outcome: CallOutcome, seconds: number): void;
  /** One attempt at an external service. */
  serviceCall(service: string, stage: string, outcome: 'ok' | 'rejected' | 'failed', seconds: number): void;
  /** An identity deleted again after a failed sign-up (`ok`), or left behind (`failed`). */
  rollback(result: 'ok' | 'failed'): void;
  /** Idempotency-Key: an answer replayed, a key still in use (409), a key reused with another body (422). */
  idempotency(event: 'replay' | 'conflict' | 'mismatch'): void;
  /** A request refused by a rate limit; `keyKind` says what was limited (ip, identifier, …). */
  rateLimited(route: string, keyKind: string): void;
  /** A `retry_later` job that ran out of attempts (the in-memory queue; BullMQ's failed set is read directly). */
  retryGaveUp(service: string): void;
  /** Registers a reader of the retry queue's job counts by state, read at each scrape. */
  watchRetryQueue(read: () => Promise<Record<string, number>> | Record<string, number>): void;
  /** Registers a reader of the requests running and waiting for their turn (Node's admission), read at each scrape. */
  watchRequests(read: () => { running: number; waiting: number }): void;
}

export interface Telemetry {
  metrics: Metrics;
  tracing: Tracing;
}

const noopScope: SpanScope = { setAttributes() {}, updateName() {}, fail() {} };

export const noopMetrics: Metrics = {
  enabled: false,
  request() {},
  kratosCall() {},
  serviceCall() {},
  rollback() {},
  idempotency() {},
  rateLimited() {},
  retryGaveUp() {},
  watchRetryQueue() {},
  watchRequests() {},
};

export const noopTracing: Tracing = {
  enabled: false,
  request: (_name, _header, fn) => fn(noopScope),
  span: (_name, _attributes, fn) => fn(noopScope),
  inject() {},
  logFields: () => undefined,
};

/** Off: what Workers and tests get unless they pass their own. */
export const noopTelemetry: Telemetry = { metrics: noopMetrics, tracing: noopTracing };

/** The outcome label of an upstream answer's status. */
export function statusOutcome(status: number): CallOutcome {
  return status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';
}
