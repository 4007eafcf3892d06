import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type TextMapGetter } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { TracingConfig } from '../observability/config.ts';
import type { SpanScope, Tracing } from '../observability/telemetry.ts';

/**
 * Traces with the OpenTelemetry SDK (2.x line: the 3.x line needs Node 22), exported over
 * OTLP/HTTP. The provider is the gateway's own, not registered globally, so an application that
 * mounts the gateway keeps its own tracing setup; only the context manager (AsyncLocalStorage,
 * how the current span follows async calls) is global, and set once.
 */

let contextManagerSet = false;
function ensureContextManager(): void {
  if (contextManagerSet) return;
  // False when the application set one already: theirs carries the context as well.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  contextManagerSet = true;
}

function scopeOf(span: Span): SpanScope {
  return {
    setAttributes: (attributes) => void span.setAttributes(attributes),
    updateName: (name) => void span.updateName(name),
    fail: () => void span.setStatus({ code: SpanStatusCode.ERROR }),
  };
}

async function runIn<T>(span: Span, fn: (scope: SpanScope) => Promise<T>): Promise<T> {
  try {
    return await fn(scopeOf(span));
  } catch (err) {
    // The error's name only: messages can quote upstream answers.
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : typeof err });
    throw err;
  } finally {
    span.end();
  }
}

export interface NodeTracing {
  tracing: Tracing;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Exports what is buffered and stops. */
  close(): Promise<void>;
}

/** Builds tracing from `tracing.*`; `exporter` replaces the OTLP exporter (tests). */
export function createNodeTracing(config: TracingConfig, exporter?: SpanExporter): NodeTracing {
  ensureContextManager();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.service_name }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sample_ratio) }),
    spanProcessors: [new BatchSpanProcessor(exporter ?? new OTLPTraceExporter(config.otlp_endpoint ? { url: `${config.otlp_endpoint}/v1/traces` } : {}))],
  });
  const tracer = provider.getTracer('kratos-bff');
  const propagator = new W3CTraceContextPropagator();
  const setter = { set: (carrier: Record<string, string>, key: string, value: string) => void (carrier[key] = value) };
  const tracing: Tracing = {
    enabled: true,
    request(name, header, fn) {
      const getter: TextMapGetter<unknown> = { get: (_c, key) => header(key), keys: () => [] };
      const parent = config.trust_incoming_traceparent ? propagator.extract(ROOT_CONTEXT, undefined, getter) : ROOT_CONTEXT;
      const span = tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
      return context.with(trace.setSpan(parent, span), () => runIn(span, fn));
    },
    span(name, attributes, fn) {
      const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes });
      return context.with(trace.setSpan(context.active(), span), () => runIn(span, fn));
    },
    inject(headers) {
      propagator.inject(context.active(), headers, setter);
    },
    logFields() {
      const span = trace.getSpan(context.active());
      if (!span) return undefined;
      const { traceId, spanId } = span.spanContext();
      return { trace_id: traceId, span_id: spanId };
    },
  };
  return { tracing, flush: () => provider.forceFlush(), close: () => provider.shutdown() };
}
