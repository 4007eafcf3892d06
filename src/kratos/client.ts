import type { Identity, Session, UiContainer } from '@ory/client';
import { TransportError, type HttpRequest, type HttpResponse, type HttpTransport } from '../shared/http.ts';
import { topLevelStrings } from './json-scan.ts';
import { nativeFlows, problemOf, sessionProblemOf, type FlowAnswer, type FlowAnswerBody, type KratosErrorBody } from './flows.ts';
import type { ActionResult, CreateFlowOptions, CreateFlowResult, ForwardedClient, GetFlowResult, KratosPort, KratosVersionResult, UpstreamProblem } from './port.ts';

/**
 * The Kratos port over HTTP. Every native flow goes through `createFlow` and `submitFlow`;
 * what differs between flows (payload, answer mapping) is in `flows.ts`.
 */

export interface KratosClientOptions {
  publicUrl: string;
  adminUrl: string;
  transport: HttpTransport;
  timeoutMs: number;
  /** Pointer where duplicate-identifier errors are reported. */
  identifierPointer: string;
}

/** What a lean create reads of the flow (see `NativeFlowSpec.leanCreate`). */
const LEAN_FLOW_FIELDS = ['id', 'issued_at'];

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/**
 * Headers for a native-flow call, built from scratch rather than copied from the incoming
 * request: the browser's Cookie and Origin must never reach a native endpoint (Kratos
 * rejects API flows that carry them), and nothing else of the client's leaks by accident.
 * Content-Type is exactly `application/json` and Accept asks for JSON, because Kratos decides
 * "JSON or redirect" from those two headers (a signed-in submit would otherwise get a 302).
 */
function nativeHeaders(client: ForwardedClient, withBody: boolean): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json', 'x-request-id': client.requestId };
  if (withBody) h['content-type'] = 'application/json';
  if (client.sessionToken) h['x-session-token'] = client.sessionToken;
  if (client.clientIp) h['true-client-ip'] = client.clientIp;
  if (client.userAgent) h['user-agent'] = client.userAgent;
  return h;
}

export function createKratosClient(options: KratosClientOptions): KratosPort {
  const { transport, timeoutMs, identifierPointer } = options;

  /** A transport's failure as the port's problem; anything else is not ours to map. */
  function upstreamProblem(err: unknown): UpstreamProblem {
    if (err instanceof TransportError) return { reason: err.message, ...(err.aborted ? { aborted: true } : {}), ...(err.sent ? { sent: true } : {}) };
    throw err;
  }

  /** One Kratos request. The hot paths (create and submit) await `send` in a try instead of `call`: one promise less each. */
  function send(req: Omit<HttpRequest, 'timeoutMs'>): Promise<HttpResponse> {
    try {
      return transport(Object.assign({}, req, { timeoutMs }));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  function call(req: Omit<HttpRequest, 'timeoutMs'>): Promise<HttpResponse | UpstreamProblem> {
    return send(req).catch(upstreamProblem);
  }

  function isProblem(r: HttpResponse | UpstreamProblem): r is UpstreamProblem {
    return !('body' in r);
  }

  /** Answers every caller has to treat alike: no answer, or a 5xx. */
  function unavailableOrNull(r: HttpResponse | UpstreamProblem): { kind: 'unavailable'; problem: UpstreamProblem } | null {
    if (isProblem(r)) return { kind: 'unavailable', problem: r };
    if (r.status >= 500) return { kind: 'unavailable', problem: problemOf(r.status, parseJson(r.body) as KratosErrorBody) };
    return null;
  }

  /**
   * Creates a native flow. A promise and a `then` rather than an async frame waiting on the
   * call (issue 16), as `submitFlow`.
   */
  function createFlow(path: string, client: ForwardedClient, lean: boolean): Promise<CreateFlowResult> {
    return send({ method: 'GET', origin: options.publicUrl, path, headers: nativeHeaders(client, false), signal: client.signal }).then(
      (res) => createdFlow(res, lean),
      (err: unknown) => createdFlow(upstreamProblem(err), lean),
    );
  }

  function createdFlow(res: HttpResponse | UpstreamProblem, lean: boolean): CreateFlowResult {
    const down = unavailableOrNull(res);
    if (down) return down;
    const r = res as HttpResponse;
    if (lean && r.status === 200) {
      const read = topLevelStrings(r.body, LEAN_FLOW_FIELDS);
      if (read?.id) return read.issued_at === undefined ? { kind: 'flow', flowId: read.id } : { kind: 'flow', flowId: read.id, issuedAt: read.issued_at };
    }
    const body = parseJson(r.body) as (KratosErrorBody & { id?: string; issued_at?: string; identity?: Identity }) | undefined;
    if (r.status === 200 && typeof body?.id === 'string') {
      return {
        kind: 'flow',
        flowId: body.id,
        ...(typeof body.issued_at === 'string' ? { issuedAt: body.issued_at } : {}),
        ...(body.ui && typeof body.ui === 'object' ? { ui: body.ui as UiContainer } : {}),
        ...(body.identity && typeof body.identity === 'object' ? { identity: body.identity } : {}),
      };
    }
    if (body?.error?.id === 'session_already_available') return { kind: 'signed_in' };
    // Settings (and login refresh/aal2) judge the session sent as X-Session-Token.
    const sessionProblem = sessionProblemOf(r.status, body);
    if (sessionProblem) return sessionProblem;
    return { kind: 'upstream_error', problem: problemOf(r.status, body) };
  }

  /** A call whose success is a status in `okStatuses`; 404 (or `notFoundStatus`) means "unknown". */
  async function action(req: Omit<HttpRequest, 'timeoutMs'>, okStatuses: number[], notFoundStatus = 404): Promise<ActionResult> {
    const res = await call(req);
    const down = unavailableOrNull(res);
    if (down) return down;
    const r = res as HttpResponse;
    if (okStatuses.includes(r.status)) return { kind: 'ok' };
    if (r.status === notFoundStatus) return { kind: 'not_found' };
    return { kind: 'upstream_error', problem: problemOf(r.status, parseJson(r.body) as KratosErrorBody) };
  }

  /** The one ask of Kratos's version (kept once it succeeded; see `kratosVersion`). */
  let versionAnswer: Promise<KratosVersionResult> | undefined;

  async function askVersion(requestId: string): Promise<KratosVersionResult> {
    // Both Kratos versions answer on the admin port; the public port has no /version (404).
    const res = await call({ method: 'GET', origin: options.adminUrl, path: '/admin/version', headers: { accept: 'application/json', ...(requestId ? { 'x-request-id': requestId } : {}) } });
    const down = unavailableOrNull(res);
    if (down) return down;
    const r = res as HttpResponse;
    const body = parseJson(r.body) as (KratosErrorBody & { version?: unknown }) | undefined;
    if (r.status === 200 && typeof body?.version === 'string' && body.version) return { kind: 'ok', version: body.version };
    return { kind: 'upstream_error', problem: problemOf(r.status, body) };
  }

  const adminHeaders = (requestId: string, withBody: boolean): Record<string, string> => ({
    accept: 'application/json',
    'x-request-id': requestId,
    ...(withBody ? { 'content-type': 'application/json' } : {}),
  });

  return {
    createFlow: (flow, client, opts?: CreateFlowOptions) => {
      const spec = nativeFlows[flow];
      if (!opts?.refresh && !opts?.aal && !spec.createQuery) return createFlow(`/self-service/${spec.kratosFlow ?? flow}/api`, client, spec.leanCreate === true);
      const query = new URLSearchParams(spec.createQuery ?? '');
      if (opts?.refresh) query.set('refresh', 'true');
      if (opts?.aal) query.set('aal', opts.aal);
      const qs = query.toString();
      return createFlow(`/self-service/${spec.kratosFlow ?? flow}/api${qs ? `?${qs}` : ''}`, client, spec.leanCreate === true);
    },

    submitFlow(flow, flowId, submission, client) {
      const spec = nativeFlows[flow];
      const answered = (res: HttpResponse | UpstreamProblem) => {
        const answer: FlowAnswer = isProblem(res) ? { kind: 'no_answer', problem: res } : { kind: 'answer', status: res.status, body: parseJson(res.body) as FlowAnswerBody };
        return spec.mapAnswer(answer, identifierPointer);
      };
      let sent: Promise<HttpResponse>;
      try {
        sent = send({
          method: 'POST',
          origin: options.publicUrl,
          path: `/self-service/${spec.kratosFlow ?? flow}?flow=${encodeURIComponent(flowId)}`,
          headers: nativeHeaders(client, true),
          body: JSON.stringify(spec.payload(submission)),
          // No signal here on purpose: a submit cut short may still have done its work (a
          // registration submit may still create the identity), so its outcome must be known.
        });
      } catch (err) {
        return Promise.reject(err);
      }
      return sent.then(answered, (err: unknown) => answered(upstreamProblem(err)));
    },

    async getFlow(flow, flowId, client): Promise<GetFlowResult> {
      const res = await call({
        method: 'GET',
        origin: options.publicUrl,
        path: `/self-service/${flow}/flows?id=${encodeURIComponent(flowId)}`,
        headers: nativeHeaders(Object.assign({}, client, { sessionToken: undefined }), false),
        signal: client.signal,
      });
      const down = unavailableOrNull(res);
      if (down) return down;
      const r = res as HttpResponse;
      const body = parseJson(r.body) as (KratosErrorBody & { state?: unknown; ui?: { messages?: Array<{ id: number }> } }) | undefined;
      if (r.status === 200 && body) {
        return { kind: 'ok', ...(typeof body.state === 'string' ? { state: body.state } : {}), messageIds: (body.ui?.messages ?? []).map((m) => m.id) };
      }
      if (r.status === 404 || r.status === 410 || (r.status >= 300 && r.status < 400)) return { kind: 'not_found' };
      return { kind: 'upstream_error', problem: problemOf(r.status, body) };
    },

    async whoami(token, client) {
      const res = await call({
        method: 'GET',
        origin: options.publicUrl,
        path: '/sessions/whoami',
        headers: nativeHeaders(Object.assign({}, client, { sessionToken: token }), false),
      });
      const down = unavailableOrNull(res);
      if (down) return down;
      const r = res as HttpResponse;
      const body = parseJson(r.body) as (KratosErrorBody & Partial<Session>) | undefined;
      if (r.status === 200 && typeof body?.id === 'string') return { kind: 'ok', session: body as Session };
      // A valid session below the required AAL: the client can step up (issue 14).
      if (r.status === 403 && body?.error?.id === 'session_aal2_required') return { kind: 'aal2_required' };
      // 401 carries no error id (Kratos wraps it).
      if (r.status === 401 || r.status === 403) return { kind: 'unauthenticated' };
      return { kind: 'upstream_error', problem: problemOf(r.status, body) };
    },

    revokeSession: (token, client) =>
      action(
        {
          method: 'DELETE',
          origin: options.publicUrl,
          path: '/self-service/logout/api',
          headers: nativeHeaders(Object.assign({}, client, { sessionToken: undefined }), true),
          body: JSON.stringify({ session_token: token }),
        },
        [204],
        // Kratos answers 403 for a token it does not know.
        403,
      ),

    revokeOtherSessions: (token, client) =>
      action(
        { method: 'DELETE', origin: options.publicUrl, path: '/sessions', headers: nativeHeaders(Object.assign({}, client, { sessionToken: token }), false) },
        [200, 204],
        401,
      ),

    deleteIdentity: (identityId, requestId) =>
      action(
        { method: 'DELETE', origin: options.adminUrl, path: `/admin/identities/${encodeURIComponent(identityId)}`, headers: adminHeaders(requestId, false) },
        [204],
      ),

    async findIdentitiesByIdentifier(identifier, requestId) {
      const res = await call({
        method: 'GET',
        origin: options.adminUrl,
        path: `/admin/identities?credentials_identifier=${encodeURIComponent(identifier)}`,
        headers: adminHeaders(requestId, false),
      });
      const down = unavailableOrNull(res);
      if (down) return down;
      const r = res as HttpResponse;
      const body = parseJson(r.body);
      if (r.status === 200 && Array.isArray(body)) return { kind: 'ok', identities: body as Identity[] };
      return { kind: 'upstream_error', problem: problemOf(r.status, body as KratosErrorBody) };
    },

    patchIdentityMetadata: (identityId, patch, requestId) => {
      // Whole-object replacement: adding a child under a null metadata object fails in Kratos.
      const ops = [
        ...(patch.metadataPublic ? [{ op: 'add', path: '/metadata_public', value: patch.metadataPublic }] : []),
        ...(patch.metadataAdmin ? [{ op: 'add', path: '/metadata_admin', value: patch.metadataAdmin }] : []),
      ];
      return action(
        {
          method: 'PATCH',
          origin: options.adminUrl,
          path: `/admin/identities/${encodeURIComponent(identityId)}`,
          headers: adminHeaders(requestId, true),
          body: JSON.stringify(ops),
        },
        [200],
      );
    },

    async isReady(requestId) {
      const res = await call({
        method: 'GET',
        origin: options.publicUrl,
        path: '/health/ready',
        headers: { accept: 'application/json', 'x-request-id': requestId },
      });
      return !isProblem(res) && res.status === 200;
    },

    kratosVersion(requestId) {
      const asked = (versionAnswer ??= askVersion(requestId));
      return asked.then((result) => {
        if (result.kind !== 'ok' && versionAnswer === asked) versionAnswer = undefined;
        return result;
      });
    },
  };
}

/** The Kratos client for a gateway config (both runtime entries use this). */
export function kratosClientFor(config: { kratos: { public_url: string; admin_url: string; timeout_ms: number; identifier_pointer: string } }, transport: HttpTransport): KratosPort {
  return createKratosClient({
    publicUrl: config.kratos.public_url,
    adminUrl: config.kratos.admin_url,
    transport,
    timeoutMs: config.kratos.timeout_ms,
    identifierPointer: config.kratos.identifier_pointer,
  });
}
