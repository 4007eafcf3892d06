import type { AfterJobPlan } from '../after-jobs/plan.ts';
import { AppError } from '../errors.ts';
import { replaySessionJobs, type SessionJobDeps } from '../after-jobs/replay.ts';
import type { FlowOutcome } from '../after-jobs/respond.ts';
import { kratosFailure } from '../kratos/failure.ts';
import { performLogin, runNativeFlow } from '../kratos/native-flow.ts';
import type { ForwardedClient, LoginSubmission } from '../kratos/port.ts';
import type { Delivery } from '../session/config.ts';

/** Everything a sign-in needs, handed over explicitly (the route builds it from `c.get('gateway')`). */
export interface SignInDeps extends SessionJobDeps {
  /** The login after-jobs. */
  plan: AfterJobPlan;
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

/** A native login (with expiry replay), then the login after-jobs. Throws an AppError on failure. */
export async function signIn(deps: SignInDeps, input: SignInInput): Promise<FlowOutcome> {
  if (input.refresh) return reauthenticate(deps, input);
  const { log } = deps;
  const result = await performLogin(deps.kratos, input.submission, input.client, () =>
    log.info('login flow expired between create and submit; retrying with a new flow'),
  );
  if (result.kind !== 'ok') throw kratosFailure(log, 'login', result);
  log.info('login succeeded', { identity_id: result.session.identity?.id, delivery: input.delivery });
  const session = await replaySessionJobs(deps, deps.plan, { session: result.session, token: result.sessionToken }, input.delivery, input.client);
  return { body: { ...session.output }, cookie: session.cookie, redirectTo: input.redirectTo };
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
    const revoked = await deps.kratos.revokeSession(result.sessionToken, { ...input.client, sessionToken: undefined });
    if (revoked.kind !== 'ok') log.error('could not revoke the session of the other identity', { kind: revoked.kind });
    throw new AppError('INVALID_CREDENTIALS');
  }
  log.info('session re-authenticated', { identity_id: result.session.identity?.id, delivery: input.delivery });
  const plan: AfterJobPlan = { ...deps.plan, revokeActiveSessions: false, session: true };
  const session = await replaySessionJobs(deps, plan, { session: result.session, token: result.sessionToken }, input.delivery, input.client);
  return { body: { ...session.output }, cookie: session.cookie, redirectTo: input.redirectTo };
}
