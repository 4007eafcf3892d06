import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import { createKratosClient } from '../../src/kratos/client.ts';
import { instrumentTransport, kratosEndpoint } from '../../src/observability/transport.ts';
import { noopTelemetry, type Telemetry } from '../../src/observability/telemetry.ts';
import { createPromMetrics } from '../../src/runtime/node-metrics.ts';
import { createNodeTracing } from '../../src/runtime/node-tracing.ts';
import { createLogger } from '../../src/shared/log.ts';
import { json } from '../support/app.ts';
import { createFakeKratos } from '../support/fake-kratos.ts';

const credentials = { identifier: 'ada@example.com', password: 'correct-horse-battery' };

/** createApp on the fake Kratos with real prom-client metrics and OpenTelemetry spans kept in memory. */
function observedApp(tracingConfig: { trust_incoming_traceparent?: boolean } = {}) {
  const fake = createFakeKratos();
  const config = parseConfig({ kratos: { public_url: 'http://kratos.test', admin_url: 'http://kratos-admin.test' } });
  const prom = createPromMetrics({ process_metrics: false });
  const exporter = new InMemorySpanExporter();
  const traces = createNodeTracing(parseConfig({ ...config, tracing: { enabled: true, ...tracingConfig } }).tracing, exporter);
  const telemetry: Telemetry = { metrics: prom.metrics, tracing: traces.tracing };
  const transport = instrumentTransport(fake.transport, telemetry, [config.kratos.public_url, config.kratos.admin_url]);
  const logs: string[] = [];
  const app = createApp({
    config,
    kratos: createKratosClient({ publicUrl: config.kratos.public_url, adminUrl: config.kratos.admin_url, transport, timeoutMs: 1000, identifierPointer: '/traits/email' }),
    logger: createLogger({ level: 'debug', sink: (l) => logs.push(l) }),
    transport,
    telemetry,
  });
  const spans = async () => {
    // Not close(): shutting down clears the in-memory exporter.
    await traces.flush();
    return exporter.getFinishedSpans();
  };
  return { app, fake, prom, spans, logs };
}

describe('metrics labels', () => {
  it('name route patterns, never raw paths: an unknown path is "unmatched"', async () => {
    const { app, prom } = observedApp();
    expect((await app.request('/v1/session')).status).toBe(401);
    expect((await app.request('/v1/identities/8f0e2b9c-4f6a-4d2e-9d7b-2f4b9f8e1a11')).status).toBe(404);
    const text = await prom.registry.metrics();
    expect(text).toContain('kratos_bff_http_request_duration_seconds_count{method="GET",route="/v1/session",status="401"} 1');
    expect(text).toContain('kratos_bff_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1');
    expect(text).not.toContain('8f0e2b9c');
  });

  it('name Kratos endpoints as templates: no query, no ids', () => {
    expect(kratosEndpoint('POST', '/self-service/registration?flow=0d3c1b0a-1111-4222-8333-944445555666')).toBe('POST /self-service/registration');
    expect(kratosEndpoint('GET', '/admin/identities?credentials_identifier=ada%40example.com')).toBe('GET /admin/identities');
    expect(kratosEndpoint('PATCH', '/admin/identities/0d3c1b0a-1111-4222-8333-944445555666')).toBe('PATCH /admin/identities/{id}');
    expect(kratosEndpoint('GET', '/sessions/whoami')).toBe('GET /sessions/whoami');
    expect(kratosEndpoint('DELETE', '/sessions')).toBe('DELETE /sessions');
  });

  it('count rate-limit rejections (the recorder the rate limiter calls) and read the retry queue at each scrape', async () => {
    const prom = createPromMetrics({ process_metrics: false });
    prom.metrics.rateLimited('/v1/login', 'ip');
    prom.metrics.rateLimited('/v1/login', 'ip');
    let depth = 3;
    prom.metrics.watchRetryQueue(() => ({ waiting: depth, failed: 1 }));
    prom.metrics.watchRetryQueue(async () => {
      throw new Error('redis away');
    });
    expect(await prom.registry.metrics()).toContain('kratos_bff_rate_limited_total{route="/v1/login",key_kind="ip"} 2');
    expect(await prom.registry.metrics()).toContain('kratos_bff_retry_queue_jobs{state="waiting"} 3');
    depth = 0;
    const text = await prom.registry.metrics();
    expect(text).toContain('kratos_bff_retry_queue_jobs{state="waiting"} 0');
    expect(text).toContain('kratos_bff_retry_queue_jobs{state="failed"} 1');
  });

  it('read the requests running and waiting at each scrape', async () => {
    const prom = createPromMetrics({ process_metrics: false });
    expect(await prom.registry.metrics()).not.toMatch(/kratos_bff_requests\{/);
    let counts = { running: 32, waiting: 7 };
    prom.metrics.watchRequests(() => counts);
    let text = await prom.registry.metrics();
    expect(text).toContain('kratos_bff_requests{state="running"} 32');
    expect(text).toContain('kratos_bff_requests{state="waiting"} 7');
    counts = { running: 1, waiting: 0 };
    text = await prom.registry.metrics();
    expect(text).toContain('kratos_bff_requests{state="running"} 1');
    expect(text).toContain('kratos_bff_requests{state="waiting"} 0');
  });
});

describe('spans', () => {
  it('a login: the request span is the parent of the Kratos create and submit, log lines carry its trace id, no secret in attributes', async () => {
    const { app, spans, logs } = observedApp();
    const res = await app.request('/v1/login', json(credentials));
    expect(res.status).toBe(200);
    const token = ((await res.json()) as { session_token: string }).session_token;
    const all = await spans();
    const root = all.find((s) => s.name === 'POST /v1/login')!;
    expect(root).toBeDefined();
    const kratos = all.filter((s) => s.name.startsWith('kratos '));
    expect(kratos.map((s) => s.name)).toEqual(['kratos GET /self-service/login/api', 'kratos POST /self-service/login']);
    for (const s of kratos) {
      expect(s.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
      expect(s.spanContext().traceId).toBe(root.spanContext().traceId);
    }
    expect(root.attributes['http.route']).toBe('/v1/login');
    const request = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
    expect(request).toHaveLength(1);
    expect(request[0]!.trace_id).toBe(root.spanContext().traceId);
    const dump = JSON.stringify(all.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })));
    for (const secret of [credentials.password, credentials.identifier, token]) expect(dump).not.toContain(secret);
  });

  it('ignores an incoming traceparent unless trusted', async () => {
    const incoming = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
    const untrusted = observedApp();
    await untrusted.app.request('/health/alive', { headers: incoming });
    const [own] = await untrusted.spans();
    expect(own!.spanContext().traceId).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    const trusted = observedApp({ trust_incoming_traceparent: true });
    await trusted.app.request('/health/alive', { headers: incoming });
    const [continued] = await trusted.spans();
    expect(continued!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(continued!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
  });

  it('off: the transport is the one given, the logger unchanged', () => {
    const fake = createFakeKratos();
    expect(instrumentTransport(fake.transport, noopTelemetry, ['http://kratos.test'])).toBe(fake.transport);
  });
});
