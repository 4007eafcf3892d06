import type { ContinueWith, Identity, Session, UiContainer } from '@ory/client';
import type { FieldError } from '../errors.ts';
import type { FlowResults, FlowSubmissions, FlowType, SessionProblem, UpstreamProblem } from './port.ts';
import { flowErrors, verificationCodeErrors } from './messages.ts';

/**
 * One entry per native flow: what its submit sends and how Kratos's answer becomes the flow's
 * plain result. Creating, submitting, the headers and the expiry replay are the same for every
 * flow (`client.ts`, `native-flow.ts`); a new flow (verification, recovery, settings, …) adds
 * its entry here and its types in `port.ts`.
 */

/** Kratos's error envelope, and the parts of a flow body the mappings read. */
export interface KratosErrorBody {
  error?: { id?: string; code?: number; reason?: string; message?: string };
  use_flow_id?: string;
  ui?: unknown;
}

/** A submit's parsed JSON body (undefined when it was not JSON). */
export type FlowAnswerBody = (KratosErrorBody & Record<string, unknown>) | undefined;

/** What came back from a submit: an HTTP answer, or none (`problem` says why). */
export type FlowAnswer =
  | { kind: 'answer'; status: number; body: FlowAnswerBody }
  | { kind: 'no_answer'; problem: UpstreamProblem };

export interface NativeFlowSpec<F extends FlowType> {
  /** Kratos's flow name in the URL, when it differs from the flow type (`login_code` → `login`). */
  kratosFlow?: 'login' | 'registration';
  /** Query string of the create call (`aal=aal2`). */
  createQuery?: string;
  /**
   * Nothing of the created flow but its id and issue time is used: the create answer is
   * scanned for those two rather than parsed in full (`json-scan.ts`).
   */
  leanCreate?: boolean;
  /** The JSON body of the submit, `method` included. */
  payload(submission: FlowSubmissions[F]): Record<string, unknown>;
  /** Kratos's answer as the flow's result. */
  mapAnswer(answer: FlowAnswer, identifierPointer: string): FlowResults[F];
}

/** Why Kratos could not be used, from an HTTP answer; logged, never shown to the client. */
export function problemOf(status: number, body: KratosErrorBody | undefined): UpstreamProblem {
  return {
    status,
    ...(body?.error?.id ? { errorId: body.error.id } : {}),
    reason: body?.error?.reason ?? body?.error?.message ?? `HTTP ${status}`,
  };
}

/** The answers every flow shares: the flow expired, or the client is signed in already. */
function sharedOutcome(body: KratosErrorBody | undefined): { kind: 'expired'; newFlowId?: string } | { kind: 'signed_in' } | undefined {
  // 410 on current versions; some versions answer 400 with the same error id.
  if (body?.error?.id === 'self_service_flow_expired') return { kind: 'expired', ...(body.use_flow_id ? { newFlowId: body.use_flow_id } : {}) };
  if (body?.error?.id === 'session_already_available') return { kind: 'signed_in' };
  return undefined;
}

/**
 * Kratos's answers about the session sent as X-Session-Token (settings, login refresh/aal2):
 * 401 (`session_inactive`, or no id at all), 401 `session_aal1_required` (aal2 asked without a
 * session), 403 `session_refresh_required`, 403 `session_aal2_required`. Their
 * `redirect_browser_to` points at browser pages and is dropped.
 */
export function sessionProblemOf(status: number, body: KratosErrorBody | undefined): SessionProblem | undefined {
  const id = body?.error?.id;
  if (id === 'session_refresh_required') return { kind: 'refresh_required' };
  if (id === 'session_aal2_required') return { kind: 'aal2_required' };
  if (status === 401 && (id === undefined || id === 'session_inactive' || id === 'session_aal1_required')) return { kind: 'unauthenticated' };
  return undefined;
}

/**
 * The answers of a registration submit (password or code method) that either created the
 * identity or leave that open: no answer after sending, or a 5xx (Kratos persists the identity
 * before its post-persist hooks and the session, so a 5xx can follow the insert). Undefined for
 * every other answer; a `no_answer` always maps here.
 */
function registrationCreatedOrOpen(answer: FlowAnswer):
  | { kind: 'ambiguous'; problem: UpstreamProblem; answered: boolean }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'ok'; identity: Identity; session?: Session; sessionToken?: string; continueWith: ContinueWith[] }
  | undefined {
  if (answer.kind === 'no_answer') {
    // Refused before it was sent: nothing can have been created.
    return answer.problem.sent ? { kind: 'ambiguous', problem: answer.problem, answered: false } : { kind: 'unavailable', problem: answer.problem };
  }
  const { status, body } = answer;
  if (status >= 500) return { kind: 'ambiguous', problem: problemOf(status, body), answered: true };
  if (status === 200 && body && typeof body.identity === 'object' && body.identity) {
    return {
      kind: 'ok',
      identity: body.identity as Identity,
      ...(body.session ? { session: body.session as Session } : {}),
      ...(typeof body.session_token === 'string' ? { sessionToken: body.session_token } : {}),
      continueWith: Array.isArray(body.continue_with) ? (body.continue_with as ContinueWith[]) : [],
    };
  }
  return undefined;
}

export const nativeFlows: { [F in FlowType]: NativeFlowSpec<F> } = {
  registration: {
    leanCreate: true,
    payload(submission) {
      const payload: Record<string, unknown> = { method: 'password', traits: submission.traits, password: submission.password };
      if (submission.transientPayload && Object.keys(submission.transientPayload).length > 0) {
        payload.transient_payload = submission.transientPayload;
      }
      return payload;
    },
    mapAnswer(answer, identifierPointer) {
      const created = registrationCreatedOrOpen(answer);
      if (created || answer.kind === 'no_answer') return created!;
      const { status, body } = answer;
      const shared = sharedOutcome(body);
      if (shared) return shared;
      if (status === 400 && body?.ui) {
        const errors = flowErrors(body.ui as UiContainer, identifierPointer);
        if (errors.length > 0) return { kind: 'invalid', errors };
      }
      return { kind: 'upstream_error', problem: problemOf(status, body) };
    },
  },

  login: {
    leanCreate: true,
    payload: (submission) => ({ method: 'password', identifier: submission.identifier, password: submission.password }),
    mapAnswer(answer, identifierPointer) {
      if (answer.kind === 'no_answer') return { kind: 'unavailable', problem: answer.problem };
      const { status, body } = answer;
      if (status >= 500) return { kind: 'unavailable', problem: problemOf(status, body) };
      if (status === 200 && body?.session && typeof body.session_token === 'string') {
        return { kind: 'ok', session: body.session as Session, sessionToken: body.session_token };
      }
      const shared = sharedOutcome(body) ?? sessionProblemOf(status, body);
      if (shared) return shared;
      if (status === 400 && body?.ui) {
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
      return { kind: 'upstream_error', problem: problemOf(status, body) };
    },
  },

  settings: {
    payload(submission) {
      const payload: Record<string, unknown> = { ...submission.fields, method: submission.method };
      if (submission.transientPayload && Object.keys(submission.transientPayload).length > 0) {
        payload.transient_payload = submission.transientPayload;
      }
      return payload;
    },
    mapAnswer(answer, identifierPointer) {
      if (answer.kind === 'no_answer') return { kind: 'unavailable', problem: answer.problem };
      const { status, body } = answer;
      if (status >= 500) return { kind: 'unavailable', problem: problemOf(status, body) };
      // 200 is `success`, or `show_form` for steps that save nothing (lookup regenerate/reveal).
      if (status === 200 && body && typeof body.id === 'string') {
        return {
          kind: 'ok',
          flowId: body.id,
          state: typeof body.state === 'string' ? body.state : '',
          identity: (body.identity as Identity | undefined) ?? undefined,
          ui: (body.ui as UiContainer | undefined) ?? undefined,
          continueWith: Array.isArray(body.continue_with) ? (body.continue_with as ContinueWith[]) : [],
        };
      }
      // 403 session_refresh_required / session_aal2_required, 401 session_inactive. The
      // profile method's 403 also sets a continuity cookie; the port never passes it on.
      const shared = sharedOutcome(body) ?? sessionProblemOf(status, body);
      if (shared && shared.kind !== 'signed_in') return shared;
      if (status === 400 && body?.ui) {
        const ui = body.ui as UiContainer;
        const errors = flowErrors(ui, identifierPointer);
        if (errors.length > 0) return { kind: 'invalid', errors, ui };
      }
      return { kind: 'upstream_error', problem: problemOf(status, body) };
    },
  },

  recovery: {
    // `email` wins over `code` in Kratos: a code submission never carries an email.
    payload: (submission) => ('code' in submission ? { method: 'code', code: submission.code } : { method: 'code', email: submission.email }),
    mapAnswer(answer, identifierPointer) {
      if (answer.kind === 'no_answer') return { kind: 'unavailable', problem: answer.problem };
      const { status, body } = answer;
      if (status >= 500) return { kind: 'unavailable', problem: problemOf(status, body) };
      // Without feature_flags.use_continue_with_transitions Kratos answers 303s (and a 422
      // without any token on success): a misconfiguration, reported as upstream_error below.
      if (status === 200 && body && typeof body.id === 'string') {
        const ui = body.ui as UiContainer | undefined;
        const ids = (ui?.messages ?? []).map((m) => m.id);
        if (body.state === 'passed_challenge') {
          const token = (Array.isArray(body.continue_with) ? (body.continue_with as Array<Record<string, unknown>>) : []).find(
            (c) => c.action === 'set_ory_session_token' && typeof c.ory_session_token === 'string',
          )?.ory_session_token as string | undefined;
          if (token) return { kind: 'recovered', sessionToken: token };
          return { kind: 'upstream_error', problem: { status, reason: 'recovery passed without a session token (is feature_flags.use_continue_with_transitions on?)' } };
        }
        if (ids.includes(4060006)) return { kind: 'code_invalid' };
        if (body.state === 'sent_email') return { kind: 'sent', flowId: body.id, ...(typeof body.expires_at === 'string' ? { expiresAt: body.expires_at } : {}) };
      }
      const reason = body?.error?.reason ?? '';
      if (/submitted too often/i.test(reason)) return { kind: 'too_many_attempts' };
      if (/already used/i.test(reason)) return { kind: 'expired' };
      const shared = sharedOutcome(body);
      if (shared) return shared;
      // 410: expired; 404: a flow Kratos does not know (deleted, or from another Kratos).
      if (status === 410 || status === 404) return { kind: 'expired' };
      if (status === 400 && body?.ui) {
        const errors = flowErrors(body.ui as UiContainer, identifierPointer);
        if (errors.length > 0) return { kind: 'invalid', errors };
      }
      return { kind: 'upstream_error', problem: problemOf(status, body) };
    },
  },

  // --- verification (issue 13): kratos-facts-2 §1 ---
  verification: {
    // `code` wins over `email` in Kratos; the port's submission carries only one of them.
    payload: (submission) => ('code' in submission ? { method: 'code', code: submission.code } : { method: 'code', email: submission.email }),
    mapAnswer(answer, identifierPointer) {
      if (answer.kind === 'no_answer') return { kind: 'unavailable', problem: answer.problem };
      const { status, body } = answer;
      if (status >= 500) return { kind: 'unavailable', problem: problemOf(status, body) };
      // An expired native verification flow is replaced by a *browser* flow (303 to it); the
      // client can do nothing with it.
      if (status >= 300 && status < 400) return { kind: 'expired' };
      if (status === 410 && body?.error?.id === 'self_service_flow_expired') return { kind: 'code_expired' };
      if (status === 410 && body?.error?.id === 'self_service_flow_replaced') {
        return { kind: 'replaced', ...(body.use_flow_id ? { newFlowId: body.use_flow_id } : {}) };
      }
      // Expired flow read or submit without an error id (410), unknown flow (404), malformed id (400 without ui).
      if (status === 410 || status === 404 || (status === 400 && !body?.ui)) return { kind: 'expired' };
      if (body?.error?.id === 'session_already_available') return { kind: 'signed_in' };
      const ui = body?.ui as UiContainer | undefined;
      const state = typeof body?.state === 'string' ? body.state : undefined;
      if (status === 200 && state === 'passed_challenge') {
        return { kind: 'verified', continueUrl: typeof ui?.action === 'string' && ui.method === 'GET' ? ui.action : undefined };
      }
      // A wrong or used code is 200 with an error message in the flow (not 400).
      const codeErrors = verificationCodeErrors(ui);
      if (codeErrors.length > 0) return { kind: 'invalid', errors: codeErrors };
      if (status === 200 && state === 'sent_email' && typeof body?.id === 'string') return { kind: 'sent', flowId: body.id };
      if (status === 400 && ui) {
        const errors = flowErrors(ui, identifierPointer);
        if (errors.length > 0) return { kind: 'invalid', errors };
      }
      return { kind: 'upstream_error', problem: problemOf(status, body) };
    },
  },
  // --- end verification ---

  // --- second factor and passwordless code (issue 14) ---

  login_second_factor: {
    kratosFlow: 'login',
    createQuery: 'aal=aal2',
    payload: (s) => (s.method === 'totp' ? { method: 'totp', totp_code: s.totpCode } : { method: 'lookup_secret', lookup_secret: s.lookupCode }),
    mapAnswer(answer, identifierPointer) {
      if (answer.kind === 'no_answer') return { kind: 'unavailable', problem: answer.problem };
      const { status, body } = answer;
      if (status >= 500) return { kind: 'unavailable', problem: problemOf(status, body) };
      if (status === 200 && body?.session && typeof body.session_token === 'string') {
        return { kind: 'ok', session: body.session as Session, sessionToken: body.session_token };
      }
      const shared = sharedOutcome(body);
      if (shared) return shared;
      if (body?.error?.id === 'session_aal1_required' || status === 401) return { kind: 'unauthenticated' };
      if (status === 400 && body?.ui) {
        const ui = body.ui as UiContainer;
        const errors = secondFactorErrors(ui, identifierPointer);
        if (errors.length > 0) return { kind: 'invalid', errors };
      }
      return { kind: 'upstream_error', problem: problemOf(status, body) };
    },
  },

  login_code: {
    kratosFlow: 'login',
    payload: (s) => ({ method: 'code', identifier: s.identifier, ...(s.code !== undefined ? { code: s.code } : {}) }),
    mapAnswer(answer, identifierPointer) {
      if (answer.kind === 'no_answer') return { kind: 'unavailable', problem: answer.problem };
      const { status, body } = answer;
      if (status >= 500) return { kind: 'unavailable', problem: problemOf(status, body) };
      if (status === 200 && body?.session && typeof body.session_token === 'string') {
        return { kind: 'ok', session: body.session as Session, sessionToken: body.session_token };
      }
      const shared = sharedOutcome(body);
      if (shared) return shared;
      // Before the generic errors: 4000035 is an error message, and must not become a field error.
      if (status === 400 && body?.ui && messageIds(body.ui as UiContainer).includes(4000035)) return { kind: 'unknown_identifier' };
      const step = codeStep(status, body, 1010014, 4010008, identifierPointer);
      if (step) return step;
      return { kind: 'upstream_error', problem: problemOf(status, body) };
    },
  },

  registration_code: {
    kratosFlow: 'registration',
    payload(s) {
      const payload: Record<string, unknown> = { method: 'code', traits: s.traits, ...(s.code !== undefined ? { code: s.code } : {}) };
      if (s.transientPayload && Object.keys(s.transientPayload).length > 0) payload.transient_payload = s.transientPayload;
      return payload;
    },
    mapAnswer(answer, identifierPointer) {
      const created = registrationCreatedOrOpen(answer);
      if (created || answer.kind === 'no_answer') return created!;
      const { status, body } = answer;
      const shared = sharedOutcome(body);
      if (shared) return shared;
      const step = codeStep(status, body, 1040005, 4040003, identifierPointer);
      if (step) return step;
      return { kind: 'upstream_error', problem: problemOf(status, body) };
    },
  },
};

/** Every message id of a flow's UI, flow level and per node. */
function messageIds(ui: UiContainer): number[] {
  return [...(ui.messages ?? []), ...(ui.nodes ?? []).flatMap((n) => n.messages ?? [])].map((m) => m.id);
}

/**
 * The code steps of login and registration. The successful send is a **400** in state
 * `sent_email` with an info message (`sentId`), not an error; a wrong code is `wrongId`; the
 * 6th code submission of a flow is refused with 4000001 "submitted too often", right or wrong.
 */
function codeStep(
  status: number,
  body: FlowAnswerBody,
  sentId: number,
  wrongId: number,
  identifierPointer: string,
): { kind: 'sent' } | { kind: 'invalid_code' } | { kind: 'attempts_exhausted' } | { kind: 'invalid'; errors: FieldError[] } | undefined {
  if (status !== 400 || !body?.ui) return undefined;
  const ui = body.ui as UiContainer;
  const ids = messageIds(ui);
  if (ids.includes(wrongId)) return { kind: 'invalid_code' };
  if ((ui.messages ?? []).some((m) => m.id === 4000001 && /submitted too often/i.test(m.text))) return { kind: 'attempts_exhausted' };
  const errors = flowErrors(ui, identifierPointer);
  if (errors.length > 0) return { kind: 'invalid', errors };
  if (body.state === 'sent_email' && ids.includes(sentId)) return { kind: 'sent' };
  return undefined;
}

/** Second-factor messages as errors on our body's fields (`/totp_code`, `/lookup_code`). */
function secondFactorErrors(ui: UiContainer, identifierPointer: string): FieldError[] {
  const lookup = (id: number, message: string): FieldError => ({ pointer: '/lookup_code', code: 'CODE_INVALID', message, kratos: { id } });
  const out: FieldError[] = [];
  for (const id of messageIds(ui)) {
    if (id === 4000008) out.push({ pointer: '/totp_code', code: 'CODE_INVALID', message: 'The authentication code is invalid.', kratos: { id } });
    else if (id === 4000016) out.push(lookup(id, 'The backup code is invalid.'));
    else if (id === 4000012) out.push(lookup(id, 'This backup code has been used already.'));
    else if (id === 4000011) out.push({ pointer: '/totp_code', code: 'METHOD_NOT_ENROLLED', message: 'This account has no authenticator app set up.', kratos: { id } });
    else if (id === 4000014) out.push({ pointer: '/lookup_code', code: 'METHOD_NOT_ENROLLED', message: 'This account has no backup codes set up.', kratos: { id } });
  }
  if (out.length > 0) return out;
  return flowErrors(ui, identifierPointer).map((e) => (e.pointer === '/lookup_secret' ? { ...e, pointer: '/lookup_code' } : e));
}

