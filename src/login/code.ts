import type { FlowOutcome } from '../after-jobs/respond.ts';
import { AppError, validationError, type FieldError } from '../errors.ts';
import { kratosFailure } from '../kratos/failure.ts';
import { runNativeFlow } from '../kratos/native-flow.ts';
import type { CodeStepFailure, ForwardedClient } from '../kratos/port.ts';
import type { Delivery } from '../session/config.ts';
import { atLeast } from '../shared/min-duration.ts';
import { completeSignIn, type SignInDeps } from './sign-in.ts';

/**
 * Passwordless login by emailed code (issue 14): `sendLoginCode` runs the send step of a Kratos
 * native login flow with `method: code` and seals the flow id and identifier into a handle;
 * `verifyLoginCode` submits the code to that flow and finishes like any login (second factor,
 * after-jobs).
 *
 * Kratos answers an unknown identifier with 4000035 (the account does not exist) where
 * password login does not tell; the gateway answers exactly as if a code had been sent, with a
 * handle marked (inside the ciphertext) as unknown, that fails to verify like a wrong code.
 * The client's session token is never forwarded: Kratos refuses aal1 code login with one.
 */

/**
 * The send step takes at least this long, for known and unknown identifiers alike: Kratos
 * answers an unknown one sooner (no code to store, no mail to queue), and the floor hides that.
 */
export const CODE_SEND_MIN_MS = 300;

/** How long a code handle opens; Kratos's flow and code lifespans still apply inside it. */
export const CODE_HANDLE_TTL_MS = 60 * 60_000;

const wrongCode = (): FieldError => ({ pointer: '/code', code: 'CODE_INVALID', message: 'The code is invalid or has expired.' });

/** The failures the code steps share, as the client's answer. */
export function codeStepFailure(deps: Pick<SignInDeps, 'log'>, during: string, result: CodeStepFailure | { kind: 'unknown_identifier' }): AppError {
  switch (result.kind) {
    case 'invalid_code':
    case 'unknown_identifier':
      return validationError([wrongCode()]);
    case 'attempts_exhausted':
      return new AppError('CODE_ATTEMPTS_EXCEEDED', { detail: 'Too many codes were tried for this request; ask for a new code and start again.' });
    case 'expired':
      return new AppError('CODE_EXPIRED', { detail: 'The code or its flow has expired; ask for a new code and start again.' });
    default:
      return kratosFailure(deps.log, during, result);
  }
}

export async function sendLoginCode(deps: SignInDeps, identifier: string, client: ForwardedClient): Promise<{ handle: string }> {
  const { log } = deps;
  const startedAt = deps.now();
  let flowId = '';
  const result = await runNativeFlow(deps.kratos, 'login_code', { identifier }, { ...client, sessionToken: undefined }, {
    onExpired: () => log.info('login flow expired between create and submit; retrying with a new flow'),
    decorate: (r, created) => ((flowId = created.flowId), r),
  });
  if (result.kind !== 'sent' && result.kind !== 'unknown_identifier') {
    if (result.kind === 'ok') throw kratosFailure(log, 'login (code send)', { kind: 'upstream_error', problem: { reason: 'send step answered with a session' } });
    throw codeStepFailure(deps, 'login (code send)', result);
  }
  // Not logged as such: the log would tell which identifiers have accounts.
  log.info('login code step done');
  await atLeast(startedAt, CODE_SEND_MIN_MS, deps.now);
  const handle = await deps.handles.seal('login_code', { f: flowId, i: identifier, ...(result.kind === 'unknown_identifier' ? { u: true } : {}) }, deps.now() + CODE_HANDLE_TTL_MS);
  return { handle };
}

export interface VerifyLoginCodeInput {
  handle: string;
  code: string;
  delivery: Delivery;
  redirectTo: string | undefined;
  client: ForwardedClient;
}

export async function verifyLoginCode(deps: SignInDeps, input: VerifyLoginCodeInput): Promise<FlowOutcome> {
  const payload = await deps.handles.open('login_code', input.handle, deps.now());
  if (typeof payload?.f !== 'string' || typeof payload.i !== 'string') throw new AppError('HANDLE_INVALID');
  if (payload.u === true) throw validationError([wrongCode()]);
  const client = { ...input.client, sessionToken: undefined };
  const result = await deps.kratos.submitFlow('login_code', payload.f, { identifier: payload.i, code: input.code }, client);
  if (result.kind !== 'ok') {
    if (result.kind === 'sent') throw kratosFailure(deps.log, 'login (code verify)', { kind: 'upstream_error', problem: { reason: 'verify step answered sent_email' } });
    throw codeStepFailure(deps, 'login (code verify)', result);
  }
  return completeSignIn(deps, { session: result.session, token: result.sessionToken }, { ...input, identifier: payload.i });
}
