import { AppError, validationError, type FieldError } from '../errors.ts';
import type { Logger } from '../shared/log.ts';
import type { LostAnswerResolution } from './lost-answer.ts';
import { identifierTakenError } from './messages.ts';
import type { SessionProblem, UpstreamProblem } from './port.ts';

/**
 * The one mapping of failed Kratos calls to the client's answer, for every flow and call
 * (registration, login, whoami, logout, a lost registration answer). Upstream detail only goes
 * to the log, never to the client.
 */

/** The results a flow or call can fail with, besides its own success. */
export type KratosFailure =
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'invalid_credentials' }
  | { kind: 'signed_in' }
  | { kind: 'expired'; newFlowId?: string }
  | SessionProblem
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

/** `during` names the flow or call in the log line (`registration`, `login`, `whoami`, …). */
export function kratosFailure(log: Logger, during: string, failure: KratosFailure): AppError {
  switch (failure.kind) {
    case 'invalid':
      return validationError(failure.errors);
    case 'invalid_credentials':
      return new AppError('INVALID_CREDENTIALS');
    case 'signed_in':
      return new AppError('SESSION_ALREADY_AVAILABLE');
    case 'unauthenticated':
      return new AppError('UNAUTHENTICATED');
    case 'refresh_required':
      return new AppError('REAUTHENTICATION_REQUIRED');
    case 'aal2_required':
      return new AppError('SECOND_FACTOR_REQUIRED');
    case 'expired':
      log.warn(`${during} flow expired twice in a row`);
      return new AppError('FLOW_EXPIRED');
    case 'unavailable':
      log.error(`kratos unavailable during ${during}`, { upstream: failure.problem });
      return new AppError('KRATOS_UNAVAILABLE');
    case 'upstream_error':
      log.error(`unexpected kratos answer during ${during}`, { upstream: failure.problem });
      return new AppError('UPSTREAM_ERROR');
  }
}

/**
 * The answer for a lost registration answer that did not turn out to be this request's
 * identity. `lost` is the submit whose answer was lost; `onUnknown` tells the runtime an
 * identity may be left behind.
 */
export function lostAnswerFailure(
  log: Logger,
  resolved: Exclude<LostAnswerResolution, { kind: 'created' } | { kind: 'ours' }>,
  lost: { answered: boolean; problem: UpstreamProblem },
  identifierPointer: string,
  onUnknown: () => void,
): AppError {
  switch (resolved.kind) {
    case 'taken':
      return validationError([identifierTakenError(identifierPointer)]);
    case 'not_created':
      return kratosFailure(log, 'registration', { kind: 'unavailable', problem: lost.problem });
    case 'failed':
      return kratosFailure(log, 'registration', resolved.result.kind === 'ambiguous' ? { kind: 'unavailable', problem: resolved.result.problem } : resolved.result);
    case 'unknown':
      if (lost.answered) {
        // Kratos answered 5xx and cannot be asked now: an outage, in which nothing is created.
        log.warn('kratos failed the submit and could not confirm that nothing was created', { why: resolved.why });
        return kratosFailure(log, 'registration', { kind: 'unavailable', problem: lost.problem });
      }
      log.error('SIGN-UP OUTCOME UNKNOWN: Kratos did not confirm whether the identity was created', { why: resolved.why });
      onUnknown();
      return new AppError('SIGNUP_OUTCOME_UNKNOWN');
  }
}
