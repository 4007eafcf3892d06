import { replaySessionJobs, type SessionJobDeps } from '../after-jobs/replay.ts';
import type { FlowOutcome } from '../after-jobs/respond.ts';
import { AppError, validationError } from '../errors.ts';
import { kratosFailure } from '../kratos/failure.ts';
import { performSettings, runNativeFlow } from '../kratos/native-flow.ts';
import type { ForwardedClient } from '../kratos/port.ts';
import type { IdempotencyStore } from '../idempotency/store.ts';
import type { Delivery } from '../session/config.ts';
import { codeFingerprint, decryptToken, encryptToken, openHandle, retryKey, RETRY_WINDOW_MS, sealHandle } from './handle.ts';

/**
 * Recovery by code, ending signed in with a new password:
 * 1. `startRecovery`: a new native recovery flow, the email submitted → a handle (handle.ts).
 *    Unknown addresses get the same answer (Kratos sends nothing, and says the same).
 * 2. `completeRecovery`: the code → Kratos's privileged session (`continue_with`
 *    set_ory_session_token) → a native settings flow with that session sets the password →
 *    the session is delivered like a login's. Kratos's own settings after-hooks (e.g.
 *    `revoke_active_sessions` after a password change) run inside Kratos on that submit.
 * Never forwards the client's session to recovery (Kratos refuses it), and never sends an
 * email to an existing flow (Kratos crashes on a finished one).
 */

export interface RecoveryDeps extends SessionJobDeps {
  store: IdempotencyStore;
}

/**
 * Kratos takes longer for a known address (it stores a code and queues an email: measured
 * ~70 ms against ~25 ms on the test machine), which would tell an observer which addresses
 * have accounts. The answer is therefore held until at least this long after the request
 * started, for both. A Kratos slower than this (overload) shows through again.
 */
export const START_MIN_MS = 400;

export async function startRecovery(deps: RecoveryDeps, input: { email: string; client: ForwardedClient }): Promise<{ flow: string }> {
  const started = deps.now();
  try {
    return await sendCode(deps, input);
  } finally {
    const wait = started + START_MIN_MS - deps.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

async function sendCode(deps: RecoveryDeps, input: { email: string; client: ForwardedClient }): Promise<{ flow: string }> {
  const client = { ...input.client, sessionToken: undefined };
  const result = await runNativeFlow(deps.kratos, 'recovery', { email: input.email }, client, {
    onExpired: () => deps.log.info('recovery flow expired between create and submit; retrying with a new flow'),
  });
  if (result.kind !== 'sent') {
    if (result.kind === 'invalid') throw validationError(result.errors.map((e) => ({ ...e, pointer: e.pointer === '' || e.pointer === '/email' ? '/email' : e.pointer })));
    throw failure(deps, result);
  }
  const expiresAt = result.expiresAt ? Date.parse(result.expiresAt) : NaN;
  return { flow: await sealHandle(deps.cookies, result.flowId, Number.isFinite(expiresAt) ? expiresAt : deps.now() + 3_600_000) };
}

function failure(deps: RecoveryDeps, result: { kind: string }): AppError {
  switch (result.kind) {
    case 'code_invalid':
      return validationError([{ pointer: '/code', code: 'CODE_INVALID', message: 'The code is wrong or has already been used.' }]);
    case 'too_many_attempts':
      return new AppError('RECOVERY_ATTEMPTS_EXCEEDED');
    case 'expired':
      return new AppError('RECOVERY_EXPIRED');
    case 'signed_in':
      return new AppError('SESSION_ALREADY_AVAILABLE');
    case 'unavailable':
    case 'upstream_error':
      return kratosFailure(deps.log, 'recovery', result as Parameters<typeof kratosFailure>[2]);
    default:
      return kratosFailure(deps.log, 'recovery', { kind: 'upstream_error', problem: { reason: `unexpected ${result.kind}` } });
  }
}

export interface CompleteRecoveryInput {
  flow: string;
  code: string;
  password: string;
  delivery: Delivery;
  client: ForwardedClient;
}

export async function completeRecovery(deps: RecoveryDeps, input: CompleteRecoveryInput): Promise<FlowOutcome> {
  const { log, store } = deps;
  const flowId = await openHandle(deps.cookies, input.flow, deps.now());
  if (!flowId) throw new AppError('RECOVERY_EXPIRED', { detail: 'The recovery flow handle is unknown or has expired. Request a new code with POST /v1/recovery.' });
  const client = { ...input.client, sessionToken: undefined };
  const key = await retryKey(input.flow);
  const begun = await store.begin(key, await codeFingerprint(input.flow, input.code), RETRY_WINDOW_MS);
  let token: string | undefined;
  switch (begun.kind) {
    case 'in_progress':
      throw new AppError('RECOVERY_IN_PROGRESS');
    case 'mismatch':
      // This flow's code was accepted already; this is not it.
      throw failure(deps, { kind: 'code_invalid' });
    case 'replay':
      // A retry after a refused password: the code was right, the session is kept.
      token = await decryptToken(input.flow, begun.response.body);
      if (!token) throw new AppError('RECOVERY_EXPIRED');
      log.info('recovery retry: reusing the privileged session of an accepted code');
      break;
    case 'started': {
      const result = await deps.kratos.submitFlow('recovery', flowId, { code: input.code }, client).catch(async (err: unknown) => {
        await store.release(key, begun.claim);
        throw err;
      });
      if (result.kind !== 'recovered') {
        await store.release(key, begun.claim);
        throw failure(deps, result);
      }
      token = result.sessionToken;
      await store.complete(key, { status: 0, headers: {}, body: await encryptToken(input.flow, token) }, begun.claim);
      log.info('recovery code accepted');
      break;
    }
  }

  const tokenClient = { ...client, sessionToken: token };
  const set = await performSettings(deps.kratos, { method: 'password', fields: { password: input.password } }, tokenClient);
  switch (set.kind) {
    case 'ok':
      break;
    case 'invalid':
      // Too weak, too similar, breached: retry with the same handle and code.
      throw validationError(set.errors);
    case 'unauthenticated':
    case 'refresh_required':
      throw new AppError('RECOVERY_EXPIRED', { detail: 'The session of this recovery has expired. Request a new code with POST /v1/recovery.' });
    default:
      throw kratosFailure(log, 'recovery settings', set.kind === 'signed_in' ? { kind: 'upstream_error', problem: { reason: 'unexpected signed_in' } } : set);
  }
  log.info('password set by recovery', { identity_id: set.identity?.id, delivery: input.delivery });
  const who = await deps.kratos.whoami(token, tokenClient);
  if (who.kind !== 'ok') throw kratosFailure(log, 'recovery whoami', who.kind === 'unauthenticated' ? { kind: 'upstream_error', problem: { reason: 'recovery session gone' } } : who);
  const session = await replaySessionJobs(deps, { session: true, revokeActiveSessions: false }, { session: who.session, token }, input.delivery, tokenClient);
  return { body: { ...session.output }, cookie: session.cookie };
}
