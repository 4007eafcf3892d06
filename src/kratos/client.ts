import type { ContinueWith, Identity, Session, UiContainer } from '@ory/client';
import type { FieldError } from '../errors.ts';
import { TransportError, type HttpRequest, type HttpResponse, type HttpTransport } from '../shared/http.ts';
import { flowErrors } from './messages.ts';

/**
 * Everything the gateway knows about Kratos lives behind this module. Routes never see raw
 * responses or SDK objects: each call returns a plain result that routes `switch` on.
 */

/** What the gateway forwards about the client on every native-flow call. */
export interface ForwardedClient {
  requestId: string;
  /** The client's session token, sent as raw X-Session-Token (the SDK has no parameter for it). */
  sessionToken?: string | undefined;
  clientIp?: string | undefined;
  userAgent?: string | undefined;
  /**
   * Cancels the calls made for this client (shutdown deadline, client gone). Never used for a
   * registration submit: cutting that call would leave its outcome unknown.
   */
  signal?: AbortSignal | undefined;
}

/** Why Kratos could not be used; logged, never shown to the client. */
export interface UpstreamProblem {
  status?: number;
  errorId?: string;
  reason: string;
  /** The call was cancelled by the caller's signal. */
  aborted?: boolean;
  /** No answer arrived, but the request may have reached Kratos. */
  sent?: boolean;
}

export type CreateFlowResult =
  | { kind: 'flow'; flowId: string; /** Kratos's `issued_at`, on Kratos's clock. */ issuedAt?: string }
  | { kind: 'signed_in' }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

export interface RegistrationSubmission {
  traits: Record<string, unknown>;
  password: string;
  transientPayload?: Record<string, unknown> | undefined;
}

/** Identity metadata the gateway writes after creation (from fields and services). */
export interface MetadataWrites {
  metadataPublic: Record<string, unknown>;
  metadataAdmin: Record<string, unknown>;
}

export type RegistrationResult =
  | { kind: 'ok'; identity: Identity; session?: Session; sessionToken?: string; continueWith: ContinueWith[] }
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'expired'; newFlowId?: string }
  | { kind: 'signed_in' }
  /**
   * The submit went out but no usable answer came back (timeout, connection lost, 5xx): Kratos
   * may or may not have created the identity. The caller must find out before answering.
   */
  | { kind: 'ambiguous'; problem: UpstreamProblem; /** Kratos answered (5xx) rather than no answer at all. */ answered: boolean }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

export interface LoginSubmission {
  identifier: string;
  password: string;
}

export type LoginResult =
  | { kind: 'ok'; session: Session; sessionToken: string }
  | { kind: 'invalid_credentials' }
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'expired'; newFlowId?: string }
  | { kind: 'signed_in' }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

export type WhoamiResult =
  | { kind: 'ok'; session: Session }
  | { kind: 'unauthenticated' }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

/** Outcome of a call that returns nothing of interest. `not_found`: Kratos did not know the thing. */
export type ActionResult =
  | { kind: 'ok' }
  | { kind: 'not_found' }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

export type FindIdentityResult =
  | { kind: 'ok'; identities: Identity[] }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

export interface IdentityMetadataPatch {
  metadataPublic?: Record<string, unknown>;
  metadataAdmin?: Record<string, unknown>;
}

export interface KratosPort {
  createRegistrationFlow(client: ForwardedClient): Promise<CreateFlowResult>;
  submitRegistrationFlow(flowId: string, submission: RegistrationSubmission, client: ForwardedClient): Promise<RegistrationResult>;
  createLoginFlow(client: ForwardedClient): Promise<CreateFlowResult>;
  submitLoginFlow(flowId: string, submission: LoginSubmission, client: ForwardedClient): Promise<LoginResult>;
  /** `GET /sessions/whoami` with the token as X-Session-Token. */
  whoami(token: string, client: ForwardedClient): Promise<WhoamiResult>;
  /** Native logout: revokes the session of `token` (`DELETE /self-service/logout/api`). */
  revokeSession(token: string, client: ForwardedClient): Promise<ActionResult>;
  /** Revokes every session of the token's identity except the token's own (`DELETE /sessions`). */
  revokeOtherSessions(token: string, client: ForwardedClient): Promise<ActionResult>;
  /** Admin: deletes an identity; Kratos deletes its sessions with it. */
  deleteIdentity(identityId: string, requestId: string): Promise<ActionResult>;
  /** Admin: the identities whose credentials identifier is `identifier` (at most one). */
  findIdentitiesByIdentifier(identifier: string, requestId: string): Promise<FindIdentityResult>;
  /** Admin: replaces metadata_public and/or metadata_admin of an identity. */
  patchIdentityMetadata(identityId: string, patch: IdentityMetadataPatch, requestId: string): Promise<ActionResult>;
  /** Kratos's own readiness (`/health/ready` on the public port). */
  isReady(requestId: string): Promise<boolean>;
}

export interface KratosClientOptions {
  publicUrl: string;
  adminUrl: string;
  transport: HttpTransport;
  timeoutMs: number;
  /** Pointer where duplicate-identifier errors are reported. */
  identifierPointer: string;
}

interface KratosErrorBody {
  error?: { id?: string; code?: number; reason?: string; message?: string };
  use_flow_id?: string;
  ui?: unknown;
}

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

function problemOf(res: HttpResponse, body: KratosErrorBody | undefined): UpstreamProblem {
  return {
    status: res.status,
    ...(body?.error?.id ? { errorId: body.error.id } : {}),
    reason: body?.error?.reason ?? body?.error?.message ?? `HTTP ${res.status}`,
  };
}

export function createKratosClient(options: KratosClientOptions): KratosPort {
  const { transport, timeoutMs, identifierPointer } = options;

  async function call(req: Omit<HttpRequest, 'timeoutMs'>): Promise<HttpResponse | UpstreamProblem> {
    try {
      return await transport({ ...req, timeoutMs });
    } catch (err) {
      if (err instanceof TransportError) return { reason: err.message, ...(err.aborted ? { aborted: true } : {}), ...(err.sent ? { sent: true } : {}) };
      throw err;
    }
  }

  function isProblem(r: HttpResponse | UpstreamProblem): r is UpstreamProblem {
    return !('body' in r);
  }

  /** Answers every caller has to treat alike: no answer, or a 5xx. */
  function unavailableOrNull(r: HttpResponse | UpstreamProblem): { kind: 'unavailable'; problem: UpstreamProblem } | null {
    if (isProblem(r)) return { kind: 'unavailable', problem: r };
    if (r.status >= 500) return { kind: 'unavailable', problem: problemOf(r, parseJson(r.body) as KratosErrorBody) };
    return null;
  }

  async function createFlow(path: string, client: ForwardedClient): Promise<CreateFlowResult> {
    const res = await call({ method: 'GET', origin: options.publicUrl, path, headers: nativeHeaders(client, false), signal: client.signal });
    const down = unavailableOrNull(res);
    if (down) return down;
    const r = res as HttpResponse;
    const body = parseJson(r.body) as (KratosErrorBody & { id?: string; issued_at?: string }) | undefined;
    if (r.status === 200 && typeof body?.id === 'string') {
      return { kind: 'flow', flowId: body.id, ...(typeof body.issued_at === 'string' ? { issuedAt: body.issued_at } : {}) };
    }
    if (body?.error?.id === 'session_already_available') return { kind: 'signed_in' };
    return { kind: 'upstream_error', problem: problemOf(r, body) };
  }

  /** A call whose success is a status in `okStatuses`; 404 (or `notFoundStatus`) means "unknown". */
  async function action(req: Omit<HttpRequest, 'timeoutMs'>, okStatuses: number[], notFoundStatus = 404): Promise<ActionResult> {
    const res = await call(req);
    const down = unavailableOrNull(res);
    if (down) return down;
    const r = res as HttpResponse;
    if (okStatuses.includes(r.status)) return { kind: 'ok' };
    if (r.status === notFoundStatus) return { kind: 'not_found' };
    return { kind: 'upstream_error', problem: problemOf(r, parseJson(r.body) as KratosErrorBody) };
  }

  const adminHeaders = (requestId: string, withBody: boolean): Record<string, string> => ({
    accept: 'application/json',
    'x-request-id': requestId,
    ...(withBody ? { 'content-type': 'application/json' } : {}),
  });

  return {
    createRegistrationFlow: (client) => createFlow('/self-service/registration/api', client),
    createLoginFlow: (client) => createFlow('/self-service/login/api', client),

    async submitRegistrationFlow(flowId, submission, client) {
      const payload: Record<string, unknown> = {
        method: 'password',
        traits: submission.traits,
        password: submission.password,
      };
      if (submission.transientPayload && Object.keys(submission.transientPayload).length > 0) {
        payload.transient_payload = submission.transientPayload;
      }
      const res = await call({
        method: 'POST',
        origin: options.publicUrl,
        path: `/self-service/registration?flow=${encodeURIComponent(flowId)}`,
        headers: nativeHeaders(client, true),
        body: JSON.stringify(payload),
        // No signal here on purpose: a submit cut short may still create the identity.
      });
      if (isProblem(res)) {
        // Refused before it was sent: nothing can have been created.
        return res.sent ? { kind: 'ambiguous', problem: res, answered: false } : { kind: 'unavailable', problem: res };
      }
      // Kratos persists the identity before its post-persist hooks and the session: a 5xx can
      // come after the identity was created.
      if (res.status >= 500) return { kind: 'ambiguous', problem: problemOf(res, parseJson(res.body) as KratosErrorBody), answered: true };
      const r = res;
      const body = parseJson(r.body) as Record<string, unknown> | undefined;
      const err = body as KratosErrorBody | undefined;
      if (r.status === 200 && body && typeof body.identity === 'object' && body.identity) {
        return {
          kind: 'ok',
          identity: body.identity as Identity,
          ...(body.session ? { session: body.session as Session } : {}),
          ...(typeof body.session_token === 'string' ? { sessionToken: body.session_token } : {}),
          continueWith: Array.isArray(body.continue_with) ? (body.continue_with as ContinueWith[]) : [],
        };
      }
      // 410 on current versions; some versions answer 400 with the same error id.
      if (err?.error?.id === 'self_service_flow_expired') {
        return { kind: 'expired', ...(err.use_flow_id ? { newFlowId: err.use_flow_id } : {}) };
      }
      if (err?.error?.id === 'session_already_available') return { kind: 'signed_in' };
      if (r.status === 400 && err?.ui) {
        const errors = flowErrors(err.ui as Parameters<typeof flowErrors>[0], identifierPointer);
        if (errors.length > 0) return { kind: 'invalid', errors };
      }
      return { kind: 'upstream_error', problem: problemOf(r, err) };
    },

    async submitLoginFlow(flowId, submission, client) {
      const res = await call({
        method: 'POST',
        origin: options.publicUrl,
        path: `/self-service/login?flow=${encodeURIComponent(flowId)}`,
        headers: nativeHeaders(client, true),
        body: JSON.stringify({ method: 'password', identifier: submission.identifier, password: submission.password }),
      });
      const down = unavailableOrNull(res);
      if (down) return down;
      const r = res as HttpResponse;
      const body = parseJson(r.body) as (KratosErrorBody & { session?: Session; session_token?: string }) | undefined;
      if (r.status === 200 && body?.session && typeof body.session_token === 'string') {
        return { kind: 'ok', session: body.session, sessionToken: body.session_token };
      }
      if (body?.error?.id === 'self_service_flow_expired') {
        return { kind: 'expired', ...(body.use_flow_id ? { newFlowId: body.use_flow_id } : {}) };
      }
      if (body?.error?.id === 'session_already_available') return { kind: 'signed_in' };
      if (r.status === 400 && body?.ui) {
        const ui = body.ui as UiContainer;
        const ids = [...(ui.messages ?? []), ...ui.nodes.flatMap((n) => n.messages)].map((m) => m.id);
        // 4000006 covers both a wrong password and an unknown identifier: Kratos itself does not
        // tell them apart, and neither do we.
        if (ids.includes(4000006)) return { kind: 'invalid_credentials' };
        // A submit with a valid session is refused through the flow (generic 4000001 with
        // this reason), unlike registration's error envelope.
        if ((ui.messages ?? []).some((m) => m.id === 4000001 && /valid session was detected/i.test(m.text))) return { kind: 'signed_in' };
        const errors = flowErrors(ui, identifierPointer);
        if (errors.length > 0) return { kind: 'invalid', errors };
      }
      return { kind: 'upstream_error', problem: problemOf(r, body) };
    },

    async whoami(token, client) {
      const res = await call({
        method: 'GET',
        origin: options.publicUrl,
        path: '/sessions/whoami',
        headers: nativeHeaders({ ...client, sessionToken: token }, false),
      });
      const down = unavailableOrNull(res);
      if (down) return down;
      const r = res as HttpResponse;
      const body = parseJson(r.body) as (KratosErrorBody & Partial<Session>) | undefined;
      if (r.status === 200 && typeof body?.id === 'string') return { kind: 'ok', session: body as Session };
      // 401 carries no error id (Kratos wraps it); 403 is an AAL the gateway does not step up.
      if (r.status === 401 || r.status === 403) return { kind: 'unauthenticated' };
      return { kind: 'upstream_error', problem: problemOf(r, body) };
    },

    revokeSession: (token, client) =>
      action(
        {
          method: 'DELETE',
          origin: options.publicUrl,
          path: '/self-service/logout/api',
          headers: { ...nativeHeaders({ ...client, sessionToken: undefined }, true) },
          body: JSON.stringify({ session_token: token }),
        },
        [204],
        // Kratos answers 403 for a token it does not know.
        403,
      ),

    revokeOtherSessions: (token, client) =>
      action(
        { method: 'DELETE', origin: options.publicUrl, path: '/sessions', headers: nativeHeaders({ ...client, sessionToken: token }, false) },
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
      return { kind: 'upstream_error', problem: problemOf(r, body as KratosErrorBody) };
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
