import type { ContinueWith, Identity, Session } from '@ory/client';
import type { FieldError } from '../errors.ts';
import { TransportError, type HttpRequest, type HttpResponse, type HttpTransport } from '../http.ts';
import { flowErrors } from './map.ts';

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
}

/** Why Kratos could not be used; logged, never shown to the client. */
export interface UpstreamProblem {
  status?: number;
  errorId?: string;
  reason: string;
}

export type CreateFlowResult =
  | { kind: 'flow'; flowId: string }
  | { kind: 'signed_in' }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

export interface RegistrationSubmission {
  traits: Record<string, unknown>;
  password: string;
  transientPayload?: Record<string, unknown> | undefined;
}

export type RegistrationResult =
  | { kind: 'ok'; identity: Identity; session?: Session; sessionToken?: string; continueWith: ContinueWith[] }
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'expired'; newFlowId?: string }
  | { kind: 'signed_in' }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

export interface KratosPort {
  createRegistrationFlow(client: ForwardedClient): Promise<CreateFlowResult>;
  submitRegistrationFlow(flowId: string, submission: RegistrationSubmission, client: ForwardedClient): Promise<RegistrationResult>;
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
      if (err instanceof TransportError) return { reason: err.message };
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

  return {
    async createRegistrationFlow(client) {
      const res = await call({
        method: 'GET',
        origin: options.publicUrl,
        path: '/self-service/registration/api',
        headers: nativeHeaders(client, false),
      });
      const down = unavailableOrNull(res);
      if (down) return down;
      const r = res as HttpResponse;
      const body = parseJson(r.body) as (KratosErrorBody & { id?: string }) | undefined;
      if (r.status === 200 && typeof body?.id === 'string') return { kind: 'flow', flowId: body.id };
      if (body?.error?.id === 'session_already_available') return { kind: 'signed_in' };
      return { kind: 'upstream_error', problem: problemOf(r, body) };
    },

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
      });
      const down = unavailableOrNull(res);
      if (down) return down;
      const r = res as HttpResponse;
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
