import type { AfterJobPlan } from '../after-jobs/plan.ts';
import { replaySessionJobs, type SessionJobDeps } from '../after-jobs/replay.ts';
import type { FlowOutcome } from '../after-jobs/respond.ts';
import type { Session } from '@ory/client';
import { AppError } from '../errors.ts';
import { kratosFailure } from '../kratos/failure.ts';
import type { HandleSealer } from '../second-factor/handle.ts';
import { performLogin, runNativeFlow } from '../kratos/native-flow.ts';
import type { ForwardedClient, LoginSubmission } from '../kratos/port.ts';
import type { Delivery } from '../session/config.ts';

/** Everything a sign-in needs, handed over explicitly (the route builds it from `c.get('gateway')`). */
export interface SignInDeps extends SessionJobDeps {
  /** The login after-jobs. */
  plan: AfterJobPlan;
  /** Seals the second-factor handle (issue 14). */
  handles: HandleSealer;
}

export interface SignInInput {
  submission: LoginSubmission;
  delivery: Delivery;
  /** The redirect job's target, already checked against the allow-list. */
  redirectTo: string | undefined;
  client: ForwardedClient;
  /** Re-authenticate `client.sessionToken` (Kratos `refresh=true`) rather than start a session. */
  refresh?: boolean;
}

/** What completeSignIn needs besides the session: the input without the password, plus the identifier typed. */
export type SignInCompletion = Omit<SignInInput, 'submission'> & {
  /** The sign-in identifier, sealed into a second-factor handle: the second factor's rate limit counts per account. */
  identifier?: string;
};

/** A native login (with expiry replay), then the login after-jobs. Throws an AppError on failure. */
export async function signIn(deps: SignInDeps, input: SignInInput): Promise<FlowOutcome> {
  if (input.refresh) return reauthenticate(deps, input);
  const { log } = deps;
  const result = await performLogin(deps.kratos, input.submission, input.client, () =>
    log.info('login flow expired between create and submit; retrying with a new flow'),
  );
  if (result.kind !== 'ok') throw kratosFailure(log, 'login', result);
  const { submission, ...rest } = input;
  return completeSignIn(deps, { session: result.session, token: result.sessionToken }, Object.assign({}, rest, { identifier: submission.identifier }));
}

// --- second factor (issue 14) ---

/** How long a second-factor handle opens (the AAL1 session inside it may end sooner). */
export const SECOND_FACTOR_HANDLE_TTL_MS = 10 * 60_000;

/** Kratos node groups of an `aal=aal2` login flow → the body field names of POST /v1/login/second-factor. */
const methodNames: Record<string, string> = { totp: 'totp', lookup_secret: 'lookup_code' };

/**
 * A first factor succeeded (password or code). If Kratos wants a second factor — it then
 * answers with `session.identity: null` under `required_aal: highest_available` — the client
 * gets SECOND_FACTOR_REQUIRED with the methods and a sealed handle holding the AAL1 token, never
 * the token itself, and no after-job runs yet. Otherwise the login after-jobs run.
 */
export async function completeSignIn(
  deps: SignInDeps,
  issued: { session: Session; token: string },
  input: SignInCompletion,
): Promise<FlowOutcome> {
  const { log } = deps;
  if (!issued.session.identity) throw await secondFactorChallenge(deps, issued, input.client, input.identifier);
  log.info('login succeeded', { identity_id: issued.session.identity.id, delivery: input.delivery });
  const session = await replaySessionJobs(deps, deps.plan, { session: issued.session, token: issued.token }, input.delivery, input.client);
  return { body: { ...session.output }, cookie: session.cookie, redirectTo: input.redirectTo };
}

async function secondFactorChallenge(deps: SignInDeps, issued: { session: Session; token: string }, client: ForwardedClient, identifier: string | undefined): Promise<AppError> {
  const { log } = deps;
  // The methods come from an aal2 login flow created with the AAL1 token (its node groups).
  const created = await deps.kratos.createFlow('login_second_factor', Object.assign({}, client, { sessionToken: issued.token }));
  if (created.kind !== 'flow') return kratosFailure(log, 'login (second factor)', created);
  const groups = new Set((created.ui?.nodes ?? []).map((n) => n.group as string));
  const methods = Object.keys(methodNames).flatMap((g) => (groups.has(g) ? [methodNames[g]!] : []));
  if (methods.length === 0) {
    return kratosFailure(log, 'login (second factor)', { kind: 'upstream_error', problem: { reason: 'aal2 login flow offers no second factor the gateway supports' } });
  }
  const now = deps.now();
  const sessionEnds = issued.session.expires_at ? Date.parse(issued.session.expires_at) : NaN;
  const expiresAt = Math.min(now + SECOND_FACTOR_HANDLE_TTL_MS, Number.isFinite(sessionEnds) ? sessionEnds : Infinity);
  const handle = await deps.handles.seal('second_factor', { t: issued.token, ...(identifier ? { i: identifier } : {}) }, expiresAt);
  log.info('login needs a second factor', { session_id: issued.session.id, methods });
  return new AppError('SECOND_FACTOR_REQUIRED', {
    detail: 'The first factor was right; this account also needs a second factor. Send `handle` and one of `methods` to POST /v1/login/second-factor.',
    extensions: { handle, methods, handle_expires_at: new Date(expiresAt).toISOString() },
  });
}

/**
 * `refresh: true`: a Kratos `refresh=true` login with the client's session as X-Session-Token
 * on create and submit. Kratos re-authenticates that same session (new `authenticated_at`,
 * so settings see a privileged session again) and answers with the same token. Kratos would
 * answer credentials of another identity with a new session for that identity: the gateway
 * revokes it and answers INVALID_CREDENTIALS. The session job delivers the session in the
 * request's delivery mode; `revoke_active_sessions` is not replayed (a re-authentication is
 * not a new sign-in).
 */
async function reauthenticate(deps: SignInDeps, input: SignInInput): Promise<FlowOutcome> {
  const { log } = deps;
  const current = input.client.sessionToken;
  if (!current) throw new AppError('UNAUTHENTICATED', { detail: '`refresh: true` re-authenticates the session sent with the request, and none was sent.' });
  const result = await runNativeFlow(deps.kratos, 'login', input.submission, input.client, {
    create: { refresh: true },
    onExpired: () => log.info('login flow expired between create and submit; retrying with a new flow'),
  });
  if (result.kind !== 'ok') throw kratosFailure(log, 'login', result);
  if (result.sessionToken !== current) {
    log.warn('refresh login named another identity; revoking the session Kratos created for it', { identity_id: result.session.identity?.id });
    const revoked = await deps.kratos.revokeSession(result.sessionToken, Object.assign({}, input.client, { sessionToken: undefined }));
    if (revoked.kind !== 'ok') log.error('could not revoke the session of the other identity', { kind: revoked.kind });
    throw new AppError('INVALID_CREDENTIALS');
  }
  log.info('session re-authenticated', { identity_id: result.session.identity?.id, delivery: input.delivery });
  const plan: AfterJobPlan = Object.assign({}, deps.plan, { revokeActiveSessions: false, session: true });
  const session = await replaySessionJobs(deps, plan, { session: result.session, token: result.sessionToken }, input.delivery, input.client);
  return { body: { ...session.output }, cookie: session.cookie, redirectTo: input.redirectTo };
}
