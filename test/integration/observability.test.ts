import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ConfigInput } from '../../src/config.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { postJson, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';
import { startStandIn, type StandIn } from '../support/stand-in.ts';

const PASSWORD = 'correct-horse-battery-staple';
const API_KEY = 'sk_live_observability_key_51c2';

/** A before service and an after service with `on_failure: rollback` that fails for "rollback-" emails. */
function servicesConfig(url: string): Partial<ConfigInput> {
  return {
    registration: {
      services: [
        { name: 'vat_check', stage: 'before', retries: 0, http: { url: `${url}/vat`, headers: { 'x-api-key': API_KEY }, body: { email: '{{traits.email}}' } } },
        { name: 'crm', stage: 'after', on_failure: 'rollback', retries: 0, http: { url: `${url}/crm`, headers: { 'x-api-key': API_KEY }, body: { id: '{{identity.id}}', email: '{{traits.email}}' } } },
      ],
    },
  };
}

const signUp = (gw: TestGateway, email: string, headers: Record<string, string> = {}) =>
  postJson(`${gw.url}/v1/registration`, { traits: { email, name: { first: 'Ada' } }, password: PASSWORD }, headers);

/** One sample of a series, e.g. `kratos_bff_rollbacks_total{result="ok"}`; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics on their own listener', () => {
  let standIn: StandIn;
  let gw: TestGateway;
  beforeAll(async () => {
    standIn = await startStandIn();
    standIn.on('/crm', ({ body }) => (String(body?.email).startsWith('rollback-') ? { status: 500, body: { error: 'crm down' } } : { status: 200, body: {} }));
    gw = await startTestGateway({ config: { ...servicesConfig(standIn.url), metrics: { enabled: true, port: 0 } } });
  });
  afterAll(async () => {
    await gw?.close();
    await standIn?.close();
  });

  it('counts a sign-up, a rollback and an idempotent replay, and holds no secret', async () => {
    const key = `obs-${Date.now()}`;
    const first = await signUp(gw, uniqueEmail('metrics'), { 'idempotency-key': key });
    expect(first.status).toBe(200);
    const token = first.body.session_token as string;
    expect(token).toMatch(/^ory_st_/);
    const again = await signUp(gw, first.body.identity.traits.email, { 'idempotency-key': key });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const rolledBack = await signUp(gw, uniqueEmail('rollback'));
    expect(rolledBack.status).toBeGreaterThanOrEqual(500);

    expect(gw.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(gw.metricsUrl!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();

    // Requests by route pattern and status (the replay is a 200 too).
    expect(sample(text, 'kratos_bff_http_request_duration_seconds_count{method="POST",route="/v1/registration",status="200"}')).toBe(2);
    expect(sample(text, `kratos_bff_http_request_duration_seconds_count{method="POST",route="/v1/registration",status="${rolledBack.status}"}`)).toBe(1);
    expect(sample(text, 'kratos_bff_idempotency_total{event="replay"}')).toBe(1);
    expect(sample(text, 'kratos_bff_rollbacks_total{result="ok"}')).toBe(1);
    // Kratos per endpoint template (ids stripped), services per name and outcome.
    expect(sample(text, 'kratos_bff_kratos_request_duration_seconds_count{endpoint="POST /self-service/registration",outcome="2xx"}')).toBe(2);
    expect(sample(text, 'kratos_bff_kratos_request_duration_seconds_count{endpoint="DELETE /admin/identities/{id}",outcome="2xx"}')).toBe(1);
    expect(sample(text, 'kratos_bff_service_call_duration_seconds_count{service="vat_check",stage="before",outcome="ok"}')).toBe(2);
    expect(sample(text, 'kratos_bff_service_call_duration_seconds_count{service="crm",stage="after",outcome="ok"}')).toBe(1);
    expect(sample(text, 'kratos_bff_service_call_duration_seconds_count{service="crm",stage="after",outcome="failed"}')).toBe(1);
    expect(sample(text, 'kratos_bff_retry_queue_jobs{state="pending"}')).toBe(0);
    // Nothing runs or waits between requests (the scrape is on the metrics listener).
    expect(sample(text, 'kratos_bff_requests{state="running"}')).toBe(0);
    expect(sample(text, 'kratos_bff_requests{state="waiting"}')).toBe(0);
    expect(text).toContain('process_cpu_seconds_total');

    // No secret, token, identifier or identity id in any label.
    for (const secret of [PASSWORD, token, API_KEY, first.body.identity.id, first.body.identity.traits.email]) expect(text).not.toContain(secret);
  });

  it('is not on the public port', async () => {
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(404);
  });
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
}

/** An in-process OTLP/HTTP receiver (JSON, what the exporter sends): keeps every span it gets. */
async function startOtlpReceiver(): Promise<{ url: string; spans: OtlpSpan[]; raw: string[]; paths: string[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const raw: string[] = [];
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      paths.push(req.url ?? '');
      const text = body.toString('utf8');
      raw.push(text);
      const doc = JSON.parse(text) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
      for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    raw,
    paths,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('traces over OTLP', () => {
  let standIn: StandIn;
  let proxy: FaultProxy;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  beforeAll(async () => {
    standIn = await startStandIn();
    // Every request to Kratos's public API goes through a recording proxy: what it forwards is what Kratos receives.
    proxy = await startFaultProxy(inject('kratos').publicUrl);
    receiver = await startOtlpReceiver();
  });
  afterAll(async () => {
    await proxy?.close();
    await standIn?.close();
    await receiver?.close();
  });

  it('one trace: the request, the Kratos create and submit, each service; traceparent reaches Kratos and the services', async () => {
    const gw = await startTestGateway({
      config: { ...servicesConfig(standIn.url), kratos: { public_url: proxy.url, admin_url: inject('kratos').adminUrl }, tracing: { enabled: true, otlp_endpoint: receiver.url } },
    });
    const email = uniqueEmail('traced');
    // An incoming traceparent is not trusted by default: the gateway starts its own trace.
    const clientTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await signUp(gw, email, { traceparent: `00-${clientTrace}-00f067aa0ba902b7-01` });
    expect(res.status).toBe(200);
    const token = res.body.session_token as string;
    await gw.close(); // flushes the batch of spans

    expect(receiver.paths.every((p) => p === '/v1/traces')).toBe(true);
    const server = receiver.spans.filter((s) => s.name === 'POST /v1/registration');
    expect(server).toHaveLength(1);
    const root = server[0]!;
    expect(root.traceId).not.toBe(clientTrace);
    expect(root.parentSpanId ?? '').toBe('');
    const trace = receiver.spans.filter((s) => s.traceId === root.traceId);
    const byName = (name: string) => trace.filter((s) => s.name === name);
    const create = byName('kratos GET /self-service/registration/api');
    const submit = byName('kratos POST /self-service/registration');
    const vat = byName('service vat_check');
    const crm = byName('service crm');
    for (const spans of [create, submit, vat, crm]) {
      expect(spans).toHaveLength(1);
      expect(spans[0]!.parentSpanId).toBe(root.spanId);
    }
    // Every span of this sign-up is in the one trace.
    expect(receiver.spans.every((s) => s.traceId === root.traceId)).toBe(true);

    // Kratos received traceparent naming the Kratos span as parent, for the create and the submit.
    const kratosCalls = proxy.requests.filter((r) => r.path.startsWith('/self-service/registration'));
    expect(kratosCalls).toHaveLength(2);
    expect(kratosCalls[0]!.headers.traceparent).toBe(`00-${root.traceId}-${create[0]!.spanId}-01`);
    expect(kratosCalls[1]!.headers.traceparent).toBe(`00-${root.traceId}-${submit[0]!.spanId}-01`);
    // And each service, naming its own span.
    expect(standIn.callsTo('/vat')[0]!.headers.traceparent).toBe(`00-${root.traceId}-${vat[0]!.spanId}-01`);
    expect(standIn.callsTo('/crm')[0]!.headers.traceparent).toBe(`00-${root.traceId}-${crm[0]!.spanId}-01`);

    // The trace id is in the request's log lines (the access log, the service attempts).
    const lines = gw.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.request_id === res.headers.get('x-request-id'));
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line.trace_id).toBe(root.traceId);

    // No secret, token, identifier or upstream URL query in the exported spans.
    const exported = receiver.raw.join('\n');
    for (const secret of [PASSWORD, token, API_KEY, email, res.body.identity.id]) expect(exported).not.toContain(secret);
  });

  it('continues a client trace when trust_incoming_traceparent is on', async () => {
    receiver.spans.length = 0;
    const gw = await startTestGateway({ config: { tracing: { enabled: true, otlp_endpoint: receiver.url, trust_incoming_traceparent: true } } });
    const clientTrace = '0af7651916cd43dd8448eb211c80319c';
    const res = await fetch(`${gw.url}/health/alive`, { headers: { traceparent: `00-${clientTrace}-b7ad6b7169203331-01` } });
    expect(res.status).toBe(200);
    await gw.close();
    const span = receiver.spans.find((s) => s.name === 'GET /health/alive');
    expect(span?.traceId).toBe(clientTrace);
    expect(span?.parentSpanId).toBe('b7ad6b7169203331');
  });
});
