import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { fetchTransport, TransportError, type HttpTransport } from '../../src/shared/http.ts';
import { createLogger } from '../../src/shared/log.ts';
import { servicesConfigSchema, type ServicesConfigInput } from '../../src/services/config.ts';
import { parseRetryAfter } from '../../src/services/attempt.ts';
import { createServiceRunner, type ServiceFunction, type ServiceRunnerDeps } from '../../src/services/runner.ts';
import type { TemplateContext } from '../../src/services/template.ts';

// ---------------------------------------------------------------------------------------
// An in-process stand-in for external services: a Hono app behind fetchTransport, as the
// fake Kratos does. Answers are scripted per path; every request is recorded with the
// stand-in's own start and finish timestamps.

type Answer =
  | { status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number }
  | 'network-error'
  | 'timeout';

interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  startedAt: number;
  finishedAt: number;
}

function createStandIn() {
  const requests: Recorded[] = [];
  const scripts = new Map<string, Answer[]>();
  const defaults = new Map<string, Answer>();
  const next = (path: string): Answer => scripts.get(path)?.shift() ?? defaults.get(path) ?? { status: 200, body: {} };
  const peek = (path: string): Answer | undefined => scripts.get(path)?.[0];

  const app = new Hono();
  app.all('*', async (c) => {
    const startedAt = performance.now();
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((v, k) => (headers[k] = v));
    const text = await c.req.text();
    const url = new URL(c.req.url);
    const answer = next(url.pathname) as Exclude<Answer, string>;
    if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
    requests.push({ method: c.req.method, path: url.pathname + url.search, headers, body: text ? JSON.parse(text) : undefined, startedAt, finishedAt: performance.now() });
    const body = answer.body === undefined ? null : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    return new Response(body, { status: answer.status, headers: { 'content-type': 'application/json', ...answer.headers } });
  });
  const inner = fetchTransport(async (input, init) => app.request(input, init));
  const transport: HttpTransport = async (req) => {
    const path = req.path.split('?')[0]!;
    const scripted = peek(path);
    if (scripted === 'network-error' || scripted === 'timeout') {
      scripts.get(path)!.shift();
      requests.push({ method: req.method, path: req.path, headers: req.headers, body: undefined, startedAt: performance.now(), finishedAt: performance.now() });
      throw new TransportError(scripted === 'timeout' ? 'upstream timed out' : 'upstream unreachable', scripted === 'timeout');
    }
    return inner(req);
  };
  return {
    transport,
    requests,
    /** Answers for the next requests to `path`, in order; then the default. */
    script: (path: string, ...answers: Answer[]) => scripts.set(path, [...(scripts.get(path) ?? []), ...answers]),
    always: (path: string, answer: Answer) => defaults.set(path, answer),
    to: (path: string) => requests.filter((r) => r.path.split('?')[0] === path),
  };
}

const ctx: TemplateContext = {
  fields: { company: 'Analytical Engines', vat_id: 'GB123456789', seats: 3 },
  traits: { email: 'ada@example.com' },
  request: { id: 'req-1', ip: '203.0.113.9', user_agent: 'curl/8' },
  identity: { id: 'id-123', traits: { email: 'ada@example.com' } },
  idempotency_key: 'signup-key-1',
};
const meta = { idempotencyKey: 'signup-key-1', requestId: 'req-1' };
const SECRET = 'sk_live_9f8e7d6c5b4a';

function setup(services: ServicesConfigInput, extra: Partial<ServiceRunnerDeps> = {}) {
  const standIn = createStandIn();
  const logs: string[] = [];
  const sleeps: number[] = [];
  let ids = 0;
  const runner = createServiceRunner({
    services: servicesConfigSchema.parse(services),
    transport: standIn.transport,
    logger: createLogger({ level: 'debug', sink: (l) => logs.push(l) }),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    newId: () => `attempt-${++ids}`,
    ...extra,
  });
  return { runner, standIn, logs, sleeps };
}

const http = (path: string, more: Record<string, unknown> = {}) => ({ url: `https://svc.example${path}`, ...more });

describe('HTTP services', () => {
  it('sends the rendered request with configured headers, the idempotency key and a request id', async () => {
    const { runner, standIn } = setup([
      {
        name: 'crm',
        stage: 'after',
        http: http('/contacts/{{ fields.company }}?email={{ traits.email }}', {
          method: 'PUT',
          headers: { Authorization: `Bearer ${SECRET}`, 'X-Tenant': 'acme' },
          body: { identity: '{{ identity.id }}', seats: '{{ fields.seats }}', label: '{{ fields.company }} ({{ fields.seats }})' },
        }),
      },
    ]);
    const result = await runner.runStage('after', ctx, meta);
    expect(result.verdict).toEqual({ kind: 'proceed' });
    const [req] = standIn.requests;
    expect(req).toMatchObject({
      method: 'PUT',
      path: '/contacts/Analytical%20Engines?email=ada%40example.com',
      body: { identity: 'id-123', seats: 3, label: 'Analytical Engines (3)' },
    });
    expect(req!.headers).toMatchObject({
      authorization: `Bearer ${SECRET}`,
      'x-tenant': 'acme',
      'content-type': 'application/json',
      accept: 'application/json',
      'idempotency-key': 'signup-key-1',
      'x-request-id': 'attempt-1',
    });
  });

  it('sends no body and no content-type for a GET', async () => {
    const { runner, standIn } = setup([{ name: 'vat', stage: 'before', http: http('/vat/{{ fields.vat_id }}', { method: 'GET' }) }]);
    await runner.runStage('before', ctx, meta);
    expect(standIn.requests[0]).toMatchObject({ method: 'GET', path: '/vat/GB123456789', body: undefined });
    expect(standIn.requests[0]!.headers).not.toHaveProperty('content-type');
  });

  it('retries 503, 429 and network errors with full-jitter backoff; a new request id per attempt, one idempotency key', async () => {
    const { runner, standIn, sleeps } = setup([{ name: 'crm', stage: 'after', retries: 3, retry_backoff_ms: 200, http: http('/c') }]);
    standIn.script('/c', { status: 503 }, { status: 429 }, 'network-error', { status: 201, body: { id: 'c-1' } });
    const result = await runner.runStage('after', ctx, meta);
    // Without `save`, the answer is not even parsed: nothing reads it.
    expect(result.outcomes[0]).toMatchObject({ name: 'crm', attempts: 4, outcome: { kind: 'ok' } });
    expect(result.outcomes[0]!.outcome).not.toHaveProperty('response');
    // random() = 0.5: half of 200·2^n.
    expect(sleeps).toEqual([100, 200, 400]);
    const ids = standIn.requests.map((r) => r.headers['x-request-id']);
    expect(new Set(ids).size).toBe(4);
    expect(standIn.requests.map((r) => r.headers['idempotency-key'])).toEqual(Array(4).fill('signup-key-1'));
  });

  it('retries a timeout and reports it when retries run out', async () => {
    const { runner, standIn, sleeps } = setup([{ name: 'crm', stage: 'after', retries: 2, http: http('/c') }]);
    standIn.script('/c', 'timeout', 'timeout', 'timeout');
    const result = await runner.runStage('after', ctx, meta);
    expect(result.outcomes[0]).toMatchObject({ attempts: 3, outcome: { kind: 'failed', reason: 'timed out', retryable: true } });
    expect(sleeps).toHaveLength(2);
    expect(result.verdict).toEqual({ kind: 'failed', services: ['crm'], reason: 'timed out', retryable: true });
  });

  it('honours Retry-After, and gives up at once when it is beyond the cap', async () => {
    const { runner, standIn, sleeps } = setup([{ name: 'a', stage: 'after', retry_after_cap_ms: 3000, http: http('/a') }]);
    standIn.script('/a', { status: 429, headers: { 'retry-after': '2' } }, { status: 200 });
    expect((await runner.runStage('after', ctx, meta)).outcomes[0]!.outcome.kind).toBe('ok');
    expect(sleeps).toEqual([2000]);

    standIn.script('/a', { status: 503, headers: { 'retry-after': '60' } });
    const result = await runner.runStage('after', ctx, meta);
    expect(result.outcomes[0]).toMatchObject({ attempts: 1, outcome: { kind: 'failed', reason: 'HTTP 503, Retry-After beyond cap' } });
    expect(sleeps).toEqual([2000]);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('does not retry a rejection (400/409/422) or another 4xx', async () => {
    for (const status of [400, 409, 422]) {
      const { runner, standIn, sleeps } = setup([{ name: 'vat', stage: 'before', http: http('/v') }]);
      standIn.always('/v', { status });
      const result = await runner.runStage('before', ctx, meta);
      expect(result.outcomes[0]).toMatchObject({ attempts: 1, outcome: { kind: 'rejected' } });
      expect(standIn.requests).toHaveLength(1);
      expect(sleeps).toEqual([]);
    }
    for (const status of [401, 404, 302]) {
      const { runner, standIn } = setup([{ name: 'vat', stage: 'before', http: http('/v') }]);
      standIn.always('/v', { status });
      const result = await runner.runStage('before', ctx, meta);
      expect(result.outcomes[0]).toMatchObject({ attempts: 1, outcome: { kind: 'failed', reason: `HTTP ${status}`, retryable: false } });
      expect(result.verdict).toMatchObject({ kind: 'failed', retryable: false });
      expect(standIn.requests).toHaveLength(1);
    }
  });

  it('uses the configured rejected_statuses', async () => {
    const { runner, standIn } = setup([{ name: 'vat', stage: 'before', rejected_statuses: [403], http: http('/v') }]);
    standIn.script('/v', { status: 403 }, { status: 400 });
    expect((await runner.runStage('before', ctx, meta)).verdict.kind).toBe('rejected');
    expect((await runner.runStage('before', ctx, meta)).verdict).toMatchObject({ kind: 'failed', reason: 'HTTP 400', retryable: false });
  });

  it('refuses a URL whose placeholder forms a dot segment, without sending anything', async () => {
    const { runner, standIn } = setup([{ name: 'vat', stage: 'before', http: http('/vat/{{ fields.vat_id }}/check', { method: 'GET' }) }]);
    const result = await runner.runStage('before', { ...ctx, fields: { vat_id: '..' } }, meta);
    expect(result.outcomes[0]!.outcome).toMatchObject({ kind: 'failed', retryable: false });
    expect(standIn.requests).toEqual([]);
  });
});

describe('rejections', () => {
  it('maps a fixed rejection to its pointer, message and code', async () => {
    const { runner, standIn } = setup([
      { name: 'vat', stage: 'before', http: http('/v'), rejection: { pointer: '/fields/vat_id', message: 'Unknown VAT number.', code: 'INVALID_FORMAT' } },
    ]);
    standIn.always('/v', { status: 422, body: { whatever: true } });
    const result = await runner.runStage('before', ctx, meta);
    expect(result.verdict).toEqual({ kind: 'rejected', services: ['vat'], errors: [{ pointer: '/fields/vat_id', code: 'INVALID_FORMAT', message: 'Unknown VAT number.' }] });
  });

  it('reads errors from the response body, with custom keys, and sanitises them', async () => {
    const { runner, standIn } = setup([
      { name: 'addr', stage: 'before', http: http('/a'), rejection: { from_body: { errors_path: 'result.problems', pointer_key: 'field.ptr', message_key: 'text' } } },
    ]);
    standIn.always('/a', {
      status: 400,
      body: {
        result: {
          problems: [
            { field: { ptr: '/fields/company' }, text: 'Company not found.' },
            { field: { ptr: 'not-a-pointer' }, text: 'Bad\nline' },
            { text: 42 },
          ],
        },
      },
    });
    const result = await runner.runStage('before', ctx, meta);
    expect(result.verdict).toEqual({
      kind: 'rejected',
      services: ['addr'],
      errors: [
        { pointer: '/fields/company', code: 'SERVICE_REJECTED', message: 'Company not found.' },
        { pointer: '', code: 'SERVICE_REJECTED', message: 'Bad line' },
        { pointer: '', code: 'SERVICE_REJECTED', message: 'The sign-up was declined by an external check.' },
      ],
    });
  });

  it('falls back to a generic error at "" when the body has none', async () => {
    for (const body of [{ errors: [] }, { other: 1 }, 'not json']) {
      const { runner, standIn } = setup([{ name: 'addr', stage: 'before', http: http('/a'), rejection: { from_body: { errors_path: 'errors' } } }]);
      standIn.always('/a', { status: 409, body });
      expect((await runner.runStage('before', ctx, meta)).verdict).toMatchObject({
        kind: 'rejected',
        errors: [{ pointer: '', code: 'SERVICE_REJECTED', message: 'The sign-up was declined by an external check.' }],
      });
    }
    const { runner, standIn } = setup([{ name: 'plain', stage: 'before', http: http('/p') }]);
    standIn.always('/p', { status: 400 });
    expect((await runner.runStage('before', ctx, meta)).verdict).toMatchObject({ errors: [{ pointer: '' }] });
  });
});

describe('metadata', () => {
  it('copies values by dot path into metadata, merged across services; missing paths are left out', async () => {
    const { runner, standIn, logs } = setup([
      { name: 'crm', stage: 'after', http: http('/crm'), save: { metadata_public: { crm_id: 'data.id', tags: 'data.tags' }, metadata_admin: { crm_owner: 'data.owner.email' } } },
      { name: 'billing', stage: 'after', http: http('/billing'), save: { metadata_admin: { customer: 'customer.0.id', missing: 'nope.nothing' } } },
    ]);
    standIn.always('/crm', { status: 200, body: { data: { id: 'c-42', tags: ['b2b', 'eu'], owner: { email: 'sales@example.com' } } } });
    standIn.always('/billing', { status: 201, body: { customer: [{ id: 'cus_1' }] } });
    const result = await runner.runStage('after', ctx, meta);
    expect(result.metadataPublic).toEqual({ crm_id: 'c-42', tags: ['b2b', 'eu'] });
    expect(result.metadataAdmin).toEqual({ crm_owner: 'sales@example.com', customer: 'cus_1' });
    expect(result.outcomes[1]!.outcome).toMatchObject({ kind: 'ok', metadataAdmin: { customer: 'cus_1' } });
    const warn = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'service response lacks paths to save');
    expect(warn).toMatchObject({ level: 'warn', service: 'billing', paths: ['nope.nothing'] });
    expect(JSON.stringify(logs)).not.toContain('cus_1');
  });
});

describe('steps and concurrency', () => {
  it('runs adjacent concurrent services together: the second starts before the first finishes', async () => {
    const { runner, standIn } = setup([
      { name: 'vat', stage: 'before', concurrent: true, http: http('/vat') },
      { name: 'kyc', stage: 'before', concurrent: true, http: http('/kyc') },
    ]);
    standIn.always('/vat', { status: 200, delayMs: 300 });
    standIn.always('/kyc', { status: 200, delayMs: 300 });
    const result = await runner.runStage('before', ctx, meta);
    const [vat] = standIn.to('/vat');
    const [kyc] = standIn.to('/kyc');
    expect(Math.max(vat!.startedAt, kyc!.startedAt)).toBeLessThan(Math.min(vat!.finishedAt, kyc!.finishedAt));
    const [a, b] = result.outcomes;
    expect(b!.startedAt).toBeLessThan(a!.finishedAt);
  });

  it('runs non-concurrent services one after the other', async () => {
    const { runner, standIn } = setup([
      { name: 'vat', stage: 'before', http: http('/vat') },
      { name: 'kyc', stage: 'before', concurrent: true, http: http('/kyc') },
    ]);
    standIn.always('/vat', { status: 200, delayMs: 300 });
    standIn.always('/kyc', { status: 200, delayMs: 300 });
    await runner.runStage('before', ctx, meta);
    expect(standIn.to('/kyc')[0]!.startedAt).toBeGreaterThanOrEqual(standIn.to('/vat')[0]!.finishedAt);
  });

  it('groups only adjacent concurrent services of the stage', async () => {
    const events: string[] = [];
    const fn = (name: string): ServiceFunction => async () => {
      events.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, 20));
      events.push(`end ${name}`);
      return { kind: 'ok' };
    };
    const { runner } = setup(
      [
        { name: 'a', stage: 'before', concurrent: true, function: 'a' },
        { name: 'b', stage: 'before', concurrent: true, function: 'b' },
        { name: 'other_stage', stage: 'after', function: 'x' },
        { name: 'c', stage: 'before', concurrent: true, function: 'c' },
        { name: 'd', stage: 'before', function: 'd' },
        { name: 'e', stage: 'before', concurrent: true, function: 'e' },
      ],
      { functions: { a: fn('a'), b: fn('b'), c: fn('c'), d: fn('d'), e: fn('e'), x: fn('x') } },
    );
    await runner.runStage('before', ctx, meta);
    // a, b and c are adjacent within the before stage; d stands alone, e too.
    expect(events).toEqual(['start a', 'start b', 'start c', 'end a', 'end b', 'end c', 'start d', 'end d', 'start e', 'end e']);
  });

  it('stops the before stage at the first rejecting step; its concurrent group still completes', async () => {
    const { runner, standIn } = setup([
      { name: 'vat', stage: 'before', concurrent: true, http: http('/vat'), rejection: { pointer: '/fields/vat_id', message: 'Unknown VAT number.' } },
      { name: 'kyc', stage: 'before', concurrent: true, http: http('/kyc') },
      { name: 'fraud', stage: 'before', http: http('/fraud') },
      { name: 'crm', stage: 'after', http: http('/crm') },
    ]);
    standIn.always('/vat', { status: 422 });
    standIn.always('/kyc', { status: 200, delayMs: 50 });
    const result = await runner.runStage('before', ctx, meta);
    expect(result.verdict).toMatchObject({ kind: 'rejected', services: ['vat'], errors: [{ pointer: '/fields/vat_id' }] });
    expect(result.outcomes.map((o) => [o.name, o.outcome.kind])).toEqual([['vat', 'rejected'], ['kyc', 'ok']]);
    expect(result.skipped).toEqual(['fraud']);
    expect(standIn.to('/fraud')).toEqual([]);
    expect(standIn.to('/crm')).toEqual([]);
  });

  it('prefers a rejection over a failure in the same step, and merges rejections', async () => {
    const { runner, standIn } = setup([
      { name: 'a', stage: 'before', concurrent: true, retries: 0, http: http('/a') },
      { name: 'b', stage: 'before', concurrent: true, http: http('/b'), rejection: { pointer: '/fields/b', message: 'B says no.' } },
      { name: 'c', stage: 'before', concurrent: true, http: http('/c'), rejection: { pointer: '/fields/c', message: 'C says no.' } },
    ]);
    standIn.always('/a', { status: 500 });
    standIn.always('/b', { status: 400 });
    standIn.always('/c', { status: 409 });
    expect((await runner.runStage('before', ctx, meta)).verdict).toEqual({
      kind: 'rejected',
      services: ['b', 'c'],
      errors: [
        { pointer: '/fields/b', code: 'SERVICE_REJECTED', message: 'B says no.' },
        { pointer: '/fields/c', code: 'SERVICE_REJECTED', message: 'C says no.' },
      ],
    });
  });

  it('after stage: continue and retry_later failures are recorded and later services run; a rollback failure stops the rest', async () => {
    const { runner, standIn } = setup([
      { name: 'analytics', stage: 'after', on_failure: 'continue', retries: 0, http: http('/analytics') },
      { name: 'newsletter', stage: 'after', on_failure: 'continue', http: http('/newsletter') },
      { name: 'mail', stage: 'after', on_failure: 'retry_later', retries: 0, http: http('/mail') },
      { name: 'crm', stage: 'after', http: http('/crm'), save: { metadata_public: { crm_id: 'id' } } },
      { name: 'billing', stage: 'after', retries: 0, http: http('/billing') },
      { name: 'welcome_gift', stage: 'after', on_failure: 'continue', http: http('/gift') },
    ]);
    standIn.always('/analytics', { status: 500 });
    standIn.always('/newsletter', { status: 409 });
    standIn.always('/mail', { status: 503 });
    standIn.always('/crm', { status: 200, body: { id: 'c-1' } });
    standIn.always('/billing', { status: 502 });
    const result = await runner.runStage('after', ctx, meta);
    expect(result.outcomes.map((o) => [o.name, o.outcome.kind, o.onFailure])).toEqual([
      ['analytics', 'failed', 'continue'],
      ['newsletter', 'rejected', 'continue'],
      ['mail', 'failed', 'retry_later'],
      ['crm', 'ok', 'rollback'],
      ['billing', 'failed', 'rollback'],
    ]);
    expect(result.reported).toEqual([
      { service: 'analytics', kind: 'failed', reason: 'HTTP 500' },
      { service: 'newsletter', kind: 'rejected', reason: 'rejected' },
    ]);
    expect(result.retryLater).toEqual(['mail']);
    expect(result.verdict).toEqual({ kind: 'failed', services: ['billing'], reason: 'HTTP 502', retryable: true });
    // The sign-up will be rolled back: nothing after the failing step may run.
    expect(result.skipped).toEqual(['welcome_gift']);
    expect(standIn.to('/gift')).toEqual([]);
    expect(result.metadataPublic).toEqual({ crm_id: 'c-1' });
  });

  it('after stage: a rejection under rollback is a rejected verdict (roll back, then 400)', async () => {
    const { runner, standIn } = setup([{ name: 'crm', stage: 'after', http: http('/crm'), rejection: { pointer: '/traits/email', message: 'Already a customer.' } }]);
    standIn.always('/crm', { status: 409 });
    expect((await runner.runStage('after', ctx, meta)).verdict).toMatchObject({ kind: 'rejected', errors: [{ pointer: '/traits/email' }] });
  });

  it('a stage without services proceeds', async () => {
    const { runner } = setup([]);
    expect(await runner.runStage('before', ctx, meta)).toEqual({
      stage: 'before',
      verdict: { kind: 'proceed' },
      outcomes: [],
      skipped: [],
      metadataPublic: {},
      metadataAdmin: {},
      reported: [],
      retryLater: [],
    });
  });
});

describe('function services', () => {
  it('get the context, a stable idempotency key, a new request id per attempt and the same retry rules', async () => {
    const seen: Array<{ key: string; id: string; company: unknown }> = [];
    let calls = 0;
    const kyc: ServiceFunction = async (c, m) => {
      seen.push({ key: m.idempotencyKey, id: m.attemptRequestId, company: c.fields.company });
      calls++;
      if (calls === 1) throw new Error('socket hang up');
      if (calls === 2) return { kind: 'failed', reason: 'busy', retryable: true };
      return { kind: 'ok', response: { ref: 'k-9' }, metadataAdmin: { direct: 1 } };
    };
    const { runner, sleeps } = setup([{ name: 'kyc', stage: 'after', function: 'kyc', save: { metadata_admin: { kyc_ref: 'ref' } } }], { functions: { kyc } });
    const result = await runner.runStage('after', ctx, meta);
    expect(result.outcomes[0]).toMatchObject({ attempts: 3, outcome: { kind: 'ok' } });
    expect(result.metadataAdmin).toEqual({ direct: 1, kyc_ref: 'k-9' });
    expect(seen.map((s) => s.key)).toEqual(['signup-key-1', 'signup-key-1', 'signup-key-1']);
    expect(new Set(seen.map((s) => s.id)).size).toBe(3);
    expect(seen[0]!.company).toBe('Analytical Engines');
    expect(sleeps).toEqual([100, 200]);
  });

  it('does not retry a returned failure unless it says retryable, nor a rejection', async () => {
    let calls = 0;
    const { runner } = setup([{ name: 'f', stage: 'before', function: 'f' }], {
      functions: { f: async () => (calls++, { kind: 'failed', reason: 'no' }) },
    });
    expect((await runner.runStage('before', ctx, meta)).verdict).toEqual({ kind: 'failed', services: ['f'], reason: 'no', retryable: false });
    expect(calls).toBe(1);

    const { runner: r2 } = setup(
      [
        { name: 'g', stage: 'before', function: 'g' },
        { name: 'h', stage: 'before', function: 'h' },
      ],
      {
        functions: {
          g: async () => ({ kind: 'rejected', errors: [{ pointer: '/fields/vat_id', code: 'SERVICE_REJECTED', message: 'No.' }] }),
          h: async () => ({ kind: 'ok' }),
        },
      },
    );
    const result = await r2.runStage('before', ctx, meta);
    expect(result.verdict).toMatchObject({ kind: 'rejected', errors: [{ pointer: '/fields/vat_id', message: 'No.' }] });
    expect(result.outcomes[0]!.attempts).toBe(1);
    expect(result.skipped).toEqual(['h']);
  });

  it('times out, aborting the signal, and retries', async () => {
    const signals: AbortSignal[] = [];
    const slow: ServiceFunction = (_c, m) => {
      signals.push(m.signal);
      return new Promise(() => {});
    };
    const { runner } = setup([{ name: 'slow', stage: 'after', function: 'slow', timeout_ms: 20, retries: 1 }], { functions: { slow } });
    const result = await runner.runStage('after', ctx, meta);
    expect(result.outcomes[0]).toMatchObject({ attempts: 2, outcome: { kind: 'failed', reason: 'timed out', retryable: true } });
    expect(signals.map((s) => s.aborted)).toEqual([true, true]);
  });

  it('cannot change the context other services see, and garbage results are failures', async () => {
    const { runner, standIn } = setup(
      [
        { name: 'meddle', stage: 'after', on_failure: 'continue', function: 'meddle' },
        { name: 'crm', stage: 'after', http: http('/crm', { body: { c: '{{ fields.company }}' } }) },
      ],
      {
        functions: {
          meddle: (async (c: TemplateContext) => {
            c.fields.company = 'Evil Corp';
            return { kind: 'whatever' };
          }) as unknown as ServiceFunction,
        },
      },
    );
    const result = await runner.runStage('after', ctx, meta);
    expect(result.outcomes[0]!.outcome).toEqual({ kind: 'failed', reason: 'function returned an invalid outcome', retryable: false });
    expect(standIn.requests[0]!.body).toEqual({ c: 'Analytical Engines' });
  });

  it('refuses to build a runner when a configured function is missing', () => {
    expect(() => setup([{ name: 'kyc', stage: 'before', function: 'kycCheck' }])).toThrow(/no function registered for service\(s\): kyc \(function: kycCheck\)/);
  });
});

describe('runService', () => {
  it('runs one named service of a stage, for the retry queue', async () => {
    const { runner, standIn } = setup([{ name: 'mail', stage: 'after', on_failure: 'retry_later', http: http('/mail') }]);
    const run = await runner.runService({ serviceName: 'mail', stage: 'after', context: ctx, idempotencyKey: 'k', requestId: 'r' });
    expect(run).toMatchObject({ name: 'mail', onFailure: 'retry_later', outcome: { kind: 'ok' } });
    expect(standIn.requests[0]!.headers['idempotency-key']).toBe('k');
    await expect(runner.runService({ serviceName: 'mail', stage: 'before', context: ctx, idempotencyKey: 'k', requestId: 'r' })).rejects.toThrow(/no before service named "mail"/);
  });
});

describe('logs', () => {
  it('never contain header secrets, URLs or bodies, whatever happens', async () => {
    const fnSecret = 'sk_fn_1234567890';
    const { runner, standIn, logs } = setup(
      [
        { name: 'a', stage: 'after', on_failure: 'continue', http: http('/a?token=x', { headers: { 'X-Api-Key': SECRET, 'X-Custom-Auth': SECRET }, body: { email: '{{ traits.email }}' } }) },
        { name: 'b', stage: 'after', on_failure: 'continue', retries: 1, http: http('/b', { headers: { 'X-Custom-Auth': SECRET } }) },
        { name: 'c', stage: 'after', on_failure: 'continue', http: http('/c', { headers: { 'X-Custom-Auth': SECRET } }), rejection: { from_body: { errors_path: 'e' } } },
        { name: 'd', stage: 'after', on_failure: 'continue', function: 'd' },
      ],
      { functions: { d: async () => { throw new Error(`failed with api key ${fnSecret}`); } } },
    );
    standIn.always('/a', { status: 503, body: { echo: SECRET } });
    standIn.script('/b', 'network-error', 'timeout');
    standIn.always('/c', { status: 400, body: { e: [{ pointer: '/fields/x', message: 'no' }] } });
    await runner.runStage('after', ctx, meta);
    expect(standIn.to('/a')[0]!.headers['x-custom-auth']).toBe(SECRET);
    expect(logs.length).toBeGreaterThan(5);
    const all = logs.join('\n');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(fnSecret);
    expect(all).not.toContain('svc.example');
    expect(all).not.toContain('ada@example.com');
    expect(logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'service failed').map((l) => [l.service, l.reason])).toEqual([
      ['a', 'HTTP 503'],
      ['b', 'timed out'],
      ['d', 'function threw Error'],
    ]);
  });
});
