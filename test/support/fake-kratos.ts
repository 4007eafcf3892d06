import { readFileSync } from 'node:fs';
import { Hono, type Context } from 'hono';
import { fetchTransport, TransportError, type HttpRequest, type HttpTransport } from '../../src/shared/http.ts';

/**
 * An in-process fake of Kratos's public API for unit tests. By default it answers with
 * responses recorded from the real Kratos v1.3.1 (test/fixtures/kratos); a test sets
 * `next` answers to script a scenario. Every request is recorded with its headers.
 */

export function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/kratos/${name}.json`, import.meta.url), 'utf8'));
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

export type FakeAnswer = { status: number; body: unknown } | 'network-error';

export interface FakeKratos {
  transport: HttpTransport;
  requests: RecordedRequest[];
  /** Scripted answers for the next create-flow calls, in order (then the default). */
  createAnswers: FakeAnswer[];
  /** Scripted answers for the next submit calls, in order (then the default). */
  submitAnswers: FakeAnswer[];
  ready: boolean;
  /** What the admin identity lookup (`?credentials_identifier=`) finds. */
  identities: Array<Record<string, unknown>>;
  /** Makes the transport throw (a bug-like, non-transport error) for matching requests. */
  throwOn?: ((req: HttpRequest) => boolean) | undefined;
}

export function createFakeKratos(): FakeKratos {
  const fake: FakeKratos = {
    transport: undefined as unknown as HttpTransport,
    requests: [],
    createAnswers: [],
    submitAnswers: [],
    ready: true,
    identities: [],
  };
  let flowCounter = 0;
  const app = new Hono();
  app.use(async (c, next) => {
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((v, k) => (headers[k] = v));
    const text = c.req.method === 'GET' ? '' : await c.req.text();
    fake.requests.push({ method: c.req.method, path: c.req.path + (new URL(c.req.url).search ?? ''), headers, body: text ? JSON.parse(text) : undefined });
    await next();
  });
  const answer = (c: Context, a: { status: number; body: unknown }) => c.json(a.body as object, a.status as 200);
  app.get('/self-service/registration/api', (c) => {
    const scripted = fake.createAnswers.shift();
    if (scripted && scripted !== 'network-error') return answer(c, scripted);
    const flow = fixture('registration-flow') as Record<string, unknown>;
    return c.json({ ...flow, id: `00000000-0000-4000-8000-${String(++flowCounter).padStart(12, '0')}` });
  });
  app.post('/self-service/registration', (c) => {
    const scripted = fake.submitAnswers.shift();
    if (scripted && scripted !== 'network-error') return answer(c, scripted);
    return c.json(fixture('registration-success') as object);
  });
  app.get('/admin/identities', (c) => {
    const identifier = c.req.query('credentials_identifier');
    return c.json(fake.identities.filter((i) => (i.traits as { email?: unknown } | undefined)?.email === identifier));
  });
  app.patch('/admin/identities/:id', (c) => c.json({ id: c.req.param('id') }));
  app.delete('/admin/identities/:id', (c) => c.body(null, 204));
  app.get('/health/ready', (c) => (fake.ready ? c.json({ status: 'ok' }) : c.json({ error: { code: 503 } }, 503)));
  const inner = fetchTransport(async (input, init) => app.request(input, init));
  fake.transport = async (req) => {
    if (fake.throwOn?.(req)) throw new Error(`unexpected failure in ${req.method} ${req.path}`);
    // A scripted 'network-error' is what a real transport throws when no answer arrives.
    const queue = req.method === 'GET' && req.path.startsWith('/self-service/registration/api') ? fake.createAnswers
      : req.method === 'POST' && req.path.startsWith('/self-service/registration?') ? fake.submitAnswers : undefined;
    if (queue?.[0] === 'network-error') {
      queue.shift();
      throw new TransportError('upstream unreachable', false);
    }
    return inner(req);
  };
  return fake;
}
