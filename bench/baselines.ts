/**
 * What the gateway is compared with. Each answers the same `POST /v1/registration`
 * (`{ traits, password }`) the gateway does, so the same load generator drives all of them:
 *
 * - direct client: the least code that can sign someone up with Kratos's native API: create +
 *   submit with an undici Pool, behind a bare node:http handler. No validation, no framework.
 * - hand-written Hono handler: what a careful developer writes for the pipeline part: the same
 *   four upstream calls as the gateway (before service, create, submit, after service) over
 *   undici Pools, in Hono.
 * - naive SDK BFF: the same calls the way @ory/client's docs show them: `FrontendApi`
 *   (axios) for Kratos, axios for the two services.
 */
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { createServer, type Server } from 'node:http';
import { Pool } from 'undici';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

const JSON_HEADERS = { accept: 'application/json', 'content-type': 'application/json' };
const POOL_OPTIONS = { connections: 64, keepAliveTimeout: 4_000 };

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(`http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`);
    }),
  );
}

function honoListen(app: Hono): Promise<{ url: string; server: ServerType }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => resolve({ url: `http://127.0.0.1:${info.port}`, server }));
  });
}

/** Part 1's baseline: create + submit a native flow directly with undici, nothing else. */
export async function startDirectClient(kratosPublicUrl: string): Promise<RunningServer> {
  const kratos = new Pool(kratosPublicUrl, POOL_OPTIONS);
  async function createAndSubmit(flow: 'registration' | 'login', payload: Record<string, unknown>) {
    const created = await kratos.request({ method: 'GET', path: `/self-service/${flow}/api`, headers: { accept: 'application/json' } });
    const { id } = (await created.body.json()) as { id: string };
    const submitted = await kratos.request({
      method: 'POST',
      path: `/self-service/${flow}?flow=${id}`,
      headers: JSON_HEADERS,
      body: JSON.stringify({ method: 'password', ...payload }),
    });
    return { status: submitted.statusCode, body: await submitted.body.text() };
  }
  const server = createServer(async (req, res) => {
    try {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const input = JSON.parse(raw) as Record<string, unknown>;
      const out =
        req.url === '/v1/login'
          ? await createAndSubmit('login', { identifier: input.identifier, password: input.password })
          : await createAndSubmit('registration', { traits: input.traits, password: input.password });
      res.writeHead(out.status, { 'content-type': 'application/json' }).end(out.body);
    } catch {
      res.writeHead(502).end();
    }
  });
  const url = await listen(server);
  return { url, close: async () => (server.close(), await kratos.close()) };
}

/** Part 2's fast baseline: the gateway's upstream calls, hand-written with undici Pools. */
export async function startHandwrittenHono(kratosPublicUrl: string, servicesUrl: string): Promise<RunningServer> {
  const kratos = new Pool(kratosPublicUrl, POOL_OPTIONS);
  const services = new Pool(servicesUrl, POOL_OPTIONS);
  const post = async (pool: Pool, path: string, body: unknown) => {
    const res = await pool.request({ method: 'POST', path, headers: JSON_HEADERS, body: JSON.stringify(body) });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };
  const app = new Hono();
  app.post('/v1/registration', async (c) => {
    const { traits, password } = await c.req.json<{ traits: { email: string }; password: string }>();
    const before = await post(services, '/services/before', { email: traits.email });
    if (before.status !== 200) return c.json({ error: 'declined by the before service' }, 400);
    const created = await kratos.request({ method: 'GET', path: '/self-service/registration/api', headers: { accept: 'application/json' } });
    const { id } = (await created.body.json()) as { id: string };
    const submitted = await post(kratos, `/self-service/registration?flow=${id}`, { method: 'password', traits, password });
    if (submitted.status !== 200) return c.json(submitted.body, submitted.status as 400);
    const identity = submitted.body.identity as { id: string };
    try {
      await post(services, '/services/after', { identity_id: identity.id, email: traits.email });
    } catch {
      // on_failure: continue
    }
    return c.json({ identity, session: submitted.body.session, session_token: submitted.body.session_token });
  });
  const { url, server } = await honoListen(app);
  return { url, close: async () => (server.close(), await Promise.all([kratos.close(), services.close()]), undefined) };
}

/** Part 2's slow baseline: the same calls through @ory/client and axios, as the docs show. */
export async function startNaiveSdkBff(kratosPublicUrl: string, servicesUrl: string): Promise<RunningServer> {
  // Loaded here only, so the other servers' processes do not carry the SDK.
  const [{ Configuration, FrontendApi }, { default: axios }] = await Promise.all([import('@ory/client'), import('axios')]);
  const ory = new FrontendApi(new Configuration({ basePath: kratosPublicUrl }));
  const app = new Hono();
  app.post('/v1/registration', async (c) => {
    const { traits, password } = await c.req.json<{ traits: { email: string }; password: string }>();
    try {
      await axios.post(`${servicesUrl}/services/before`, { email: traits.email });
    } catch {
      return c.json({ error: 'declined by the before service' }, 400);
    }
    const { data: flow } = await ory.createNativeRegistrationFlow();
    let result;
    try {
      ({ data: result } = await ory.updateRegistrationFlow({ flow: flow.id, updateRegistrationFlowBody: { method: 'password', traits, password } }));
    } catch (err) {
      const res = (err as { response?: { status: number; data: unknown } }).response;
      return c.json((res?.data ?? { error: 'kratos' }) as object, (res?.status ?? 502) as 400);
    }
    try {
      await axios.post(`${servicesUrl}/services/after`, { identity_id: result.identity.id, email: traits.email });
    } catch {
      // on_failure: continue
    }
    return c.json({ identity: result.identity, session: result.session, session_token: result.session_token });
  });
  const { url, server } = await honoListen(app);
  return { url, close: async () => void server.close() };
}
