import { readFileSync } from 'node:fs';
import { Hono, type Context } from 'hono';
import { fetchTransport, TransportError, type HttpRequest, type HttpTransport } from '../../src/shared/http.ts';

/**
 * An in-process fake of Kratos's public and admin API for unit tests. By default it answers
 * with responses recorded from the real Kratos v1.3.1 (test/fixtures/kratos, recorded by
 * scripts/record-kratos-fixtures.ts); a test pushes answers onto a queue to script a scenario.
 * Every request is recorded with its headers. Minimal state keeps the session calls honest: a
 * login issues a token that whoami accepts, logout deactivates it, `DELETE /sessions`
 * deactivates the identity's other sessions.
 */

export function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/kratos/${name}.json`, import.meta.url), 'utf8'));
}

interface Manifest {
  fixtures: Record<string, { request: string; status: number }>;
}
let manifest: Manifest | undefined;

/** The HTTP status the real Kratos answered with when `name` was recorded. */
export function recordedStatus(name: string): number {
  manifest ??= fixture('manifest') as Manifest;
  const entry = manifest.fixtures[name];
  if (!entry) throw new Error(`fixture ${name} is not in test/fixtures/kratos/manifest.json`);
  return entry.status;
}

/** A recorded answer (body and status) as a scripted answer. */
export function recorded(name: string): { status: number; body: unknown } {
  return { status: recordedStatus(name), body: fixture(name) };
}

/** A session the fake Kratos issued, by its token. */
export interface FakeSession {
  token: string;
  /** The session JSON as Kratos sends it (login-success's `session`, with fresh id and times). */
  session: Record<string, unknown> & { id: string; identity: { id: string } };
  active: boolean;
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
  /** Scripted answers for `GET /self-service/login/api`. */
  loginCreateAnswers: FakeAnswer[];
  /** Scripted answers for `POST /self-service/login?flow=`. */
  loginSubmitAnswers: FakeAnswer[];
  /** Scripted answers for `GET /sessions/whoami`. */
  whoamiAnswers: FakeAnswer[];
  /** Scripted answers for `DELETE /self-service/logout/api`. */
  logoutAnswers: FakeAnswer[];
  /** Scripted answers for `DELETE /sessions` (revoke the other sessions). */
  revokeOtherSessionsAnswers: FakeAnswer[];
  /**
   * Identifier → password. Empty (the default): every login succeeds. Otherwise an unknown
   * identifier or a wrong password gets the recorded 4000006 flow, as from Kratos.
   */
  accounts: Map<string, string>;
  /** Every session issued (by login or `issueSession`), by token. */
  sessions: Map<string, FakeSession>;
  /** Issues an active session as a successful login does, e.g. to sign a client in beforehand. */
  issueSession(): FakeSession;
}

export function createFakeKratos(): FakeKratos {
  const fake: FakeKratos = {
    transport: undefined as unknown as HttpTransport,
    requests: [],
    createAnswers: [],
    submitAnswers: [],
    ready: true,
    identities: [],
    loginCreateAnswers: [],
    loginSubmitAnswers: [],
    whoamiAnswers: [],
    logoutAnswers: [],
    revokeOtherSessionsAnswers: [],
    accounts: new Map(),
    sessions: new Map(),
    issueSession: () => issueSession(),
  };
  let flowCounter = 0;
  let sessionCounter = 0;
  const nextFlowId = () => `00000000-0000-4000-8000-${String(++flowCounter).padStart(12, '0')}`;

  /**
   * A new session shaped like the recorded login's, with its own id and token, and times
   * from now: the recorded ones lie in the past, and a cookie sealed to an expired session
   * would not open.
   */
  function issueSession(): FakeSession {
    const n = ++sessionCounter;
    const template = (fixture('login-success') as { session: FakeSession['session'] }).session;
    const lifespan = Date.parse(template.expires_at as string) - Date.parse(template.issued_at as string);
    const now = new Date();
    const at = now.toISOString();
    const session = {
      ...template,
      id: `20000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
      expires_at: new Date(now.getTime() + lifespan).toISOString(),
      authenticated_at: at,
      issued_at: at,
      authentication_methods: (template.authentication_methods as Array<Record<string, unknown>>).map((m) => ({ ...m, completed_at: at })),
    };
    const issued: FakeSession = { token: `ory_st_FAKE${String(n).padStart(28, '0')}`, session, active: true };
    fake.sessions.set(issued.token, issued);
    return issued;
  }

  /**
   * The active session of the request's token (X-Session-Token, else Bearer, as Kratos reads
   * it). A revoked or expired session counts as none, as in Kratos.
   */
  function activeSession(c: Context): FakeSession | undefined {
    const bearer = /^bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    const token = c.req.header('x-session-token') || bearer;
    const s = token ? fake.sessions.get(token) : undefined;
    return s?.active && Date.parse(String(s.session.expires_at)) > Date.now() ? s : undefined;
  }

  /** A recorded answer; Kratos echoes the caller's X-Request-Id in error bodies. */
  function replay(c: Context, name: string, patch?: (body: unknown) => void): Response {
    const body = fixture(name) as { error?: { request?: string } };
    patch?.(body);
    if (body.error && 'request' in body.error) {
      const id = c.req.header('x-request-id');
      if (id) body.error.request = id;
      else delete body.error.request;
    }
    return c.json(body as object, recordedStatus(name) as 200);
  }

  /** A recorded flow answer, carrying the id of the flow it answers for (also in `ui.action`). */
  const replayFlow = (c: Context, name: string, flowId: string, patch?: (flow: unknown) => void) => {
    const recordedId = (fixture(name) as { id: string }).id;
    const flow = JSON.parse(JSON.stringify(fixture(name)).split(recordedId).join(flowId)) as unknown;
    patch?.(flow);
    return c.json(flow as object, recordedStatus(name) as 200);
  };

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
  app.get('/self-service/login/api', (c) => {
    const scripted = fake.loginCreateAnswers.shift();
    if (scripted && scripted !== 'network-error') return answer(c, scripted);
    // A valid session is refused at creation already (unless refresh or a higher AAL).
    if (activeSession(c)) return replay(c, 'login-flow-session-already-available');
    return replayFlow(c, 'login-flow', nextFlowId());
  });
  app.post('/self-service/login', async (c) => {
    const scripted = fake.loginSubmitAnswers.shift();
    if (scripted && scripted !== 'network-error') return answer(c, scripted);
    const flowId = c.req.query('flow') ?? '';
    // Kratos checks the session before the credentials, and answers with the flow (4000001).
    if (activeSession(c)) return replayFlow(c, 'login-session-already-available', flowId);
    const { identifier, password } = (await c.req.json()) as { identifier?: string; password?: string };
    if (fake.accounts.size > 0) {
      const known = fake.accounts.get(identifier ?? '');
      const refused = known === undefined ? 'login-unknown-identifier' : known !== password ? 'login-wrong-password' : undefined;
      if (refused) {
        return replayFlow(c, refused, flowId, (flow) => {
          // Kratos keeps the identifier the client typed in the flow (and resets the password).
          const node = (flow as { ui: { nodes: Array<{ attributes: { name?: string; value?: unknown } }> } }).ui.nodes.find((n) => n.attributes.name === 'identifier');
          if (node) node.attributes.value = identifier ?? '';
        });
      }
    }
    const issued = issueSession();
    return c.json({ ...(fixture('login-success') as object), session: issued.session, session_token: issued.token }, recordedStatus('login-success') as 200);
  });
  app.get('/sessions/whoami', (c) => {
    const scripted = fake.whoamiAnswers.shift();
    if (scripted && scripted !== 'network-error') return answer(c, scripted);
    const s = activeSession(c);
    return s ? c.json(s.session, recordedStatus('whoami') as 200) : replay(c, 'whoami-401');
  });
  app.delete('/self-service/logout/api', async (c) => {
    const scripted = fake.logoutAnswers.shift();
    if (scripted && scripted !== 'network-error') return answer(c, scripted);
    const token = ((await c.req.json()) as { session_token?: string }).session_token;
    const s = token ? fake.sessions.get(token) : undefined;
    // A revoked session is still known: logging it out again is a 204 too.
    if (!s) return replay(c, 'logout-403');
    s.active = false;
    return c.body(null, recordedStatus('logout') as 204);
  });
  app.delete('/sessions', (c) => {
    const scripted = fake.revokeOtherSessionsAnswers.shift();
    if (scripted && scripted !== 'network-error') return answer(c, scripted);
    const mine = activeSession(c);
    if (!mine) return replay(c, 'sessions-delete-401');
    let count = 0;
    for (const s of fake.sessions.values()) {
      if (s !== mine && s.active && s.session.identity.id === mine.session.identity.id) {
        s.active = false;
        count++;
      }
    }
    return c.json({ count }, recordedStatus('sessions-delete') as 200);
  });
  app.get('/admin/identities', (c) => {
    const identifier = c.req.query('credentials_identifier');
    return c.json(fake.identities.filter((i) => (i.traits as { email?: unknown } | undefined)?.email === identifier));
  });
  app.patch('/admin/identities/:id', (c) => c.json({ id: c.req.param('id') }));
  app.delete('/admin/identities/:id', (c) => c.body(null, 204));
  app.get('/health/ready', (c) => (fake.ready ? c.json({ status: 'ok' }) : c.json({ error: { code: 503 } }, 503)));
  /** The scripted-answer queue a request is answered from, if any. */
  const scriptedQueue = (req: HttpRequest): FakeAnswer[] | undefined => {
    const path = req.path.split('?')[0];
    const key = `${req.method} ${path}`;
    switch (key) {
      case 'GET /self-service/registration/api':
        return fake.createAnswers;
      case 'POST /self-service/registration':
        return fake.submitAnswers;
      case 'GET /self-service/login/api':
        return fake.loginCreateAnswers;
      case 'POST /self-service/login':
        return fake.loginSubmitAnswers;
      case 'GET /sessions/whoami':
        return fake.whoamiAnswers;
      case 'DELETE /self-service/logout/api':
        return fake.logoutAnswers;
      case 'DELETE /sessions':
        return fake.revokeOtherSessionsAnswers;
      default:
        return undefined;
    }
  };
  const inner = fetchTransport(async (input, init) => app.request(input, init));
  fake.transport = async (req) => {
    if (fake.throwOn?.(req)) throw new Error(`unexpected failure in ${req.method} ${req.path}`);
    // A scripted 'network-error' is what a real transport throws when no answer arrives.
    const queue = scriptedQueue(req);
    if (queue?.[0] === 'network-error') {
      queue.shift();
      throw new TransportError('upstream unreachable', false);
    }
    return inner(req);
  };
  return fake;
}
