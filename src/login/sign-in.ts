import type { AfterJobPlan } from '../after-jobs/plan.ts';
import { replaySessionJobs, type SessionJobDeps } from '../after-jobs/replay.ts';
import type { FlowOutcome } from '../after-jobs/respond.ts';
import { kratosFailure } from '../kratos/failure.ts';
import { performLogin } from '../kratos/native-flow.ts';
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
}

/** A native login (with expiry replay), then the login after-jobs. Throws an AppError on failure. */
export async function signIn(deps: SignInDeps, input: SignInInput): Promise<FlowOutcome> {
  const { log } = deps;
  const result = await performLogin(deps.kratos, input.submission, input.client, () =>
    log.info('login flow expired between create and submit; retrying with a new flow'),
  );
  if (result.kind !== 'ok') throw kratosFailure(log, 'login', result);
  log.info('login succeeded', { identity_id: result.session.identity?.id, delivery: input.delivery });
  const session = await replaySessionJobs(deps, deps.plan, { session: result.session, token: result.sessionToken }, input.delivery, input.client);
  return { body: { ...session.output }, cookie: session.cookie, redirectTo: input.redirectTo };
}
