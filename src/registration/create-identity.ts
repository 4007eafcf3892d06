import { kratosFailure, lostAnswerFailure } from '../kratos/failure.ts';
import { resolveLostAnswer } from '../kratos/lost-answer.ts';
import { performRegistration } from '../kratos/native-flow.ts';
import type { ForwardedClient, RegistrationResult, RegistrationSubmission } from '../kratos/port.ts';
import type { SignUpDeps } from './deps.ts';
import { throwIfAborted } from './rollback.ts';

/** An identity this request created, and how the gateway learnt of it. */
export type CreatedIdentity = Extract<RegistrationResult, { kind: 'ok' }> & {
  /** `recovered`: the submit's answer was lost and the identity was found and proven this request's. */
  how: 'created' | 'recovered';
};

/**
 * Creates the identity in Kratos and returns what the sign-up continues with. Throws an
 * AppError when no identity of this request exists (nothing to undo). A lost answer is
 * resolved from Kratos first (see kratos/lost-answer.ts).
 */
export function createIdentity(deps: SignUpDeps, submission: RegistrationSubmission, client: ForwardedClient): Promise<CreatedIdentity> {
  const { kratos, log } = deps;
  // A `then`, not an async frame waiting on Kratos (issue 16); anything but a plain success
  // continues in `notCreated`.
  return performRegistration(kratos, submission, client, () => log.info('registration flow expired between create and submit; retrying with a new flow')).then((result) =>
    result.kind === 'ok' ? Object.assign({}, result, { how: 'created' as const }) : notCreated(deps, submission, client, result),
  );
}

async function notCreated(
  deps: SignUpDeps,
  submission: RegistrationSubmission,
  client: ForwardedClient,
  result: Exclude<Awaited<ReturnType<typeof performRegistration>>, { kind: 'ok' }>,
): Promise<CreatedIdentity> {
  const { kratos, log } = deps;
  if (result.kind !== 'ambiguous') {
    throwIfAborted(client.signal);
    throw kratosFailure(log, 'registration', result);
  }
  log.warn('registration outcome unclear; finding out from Kratos whether the identity exists', { upstream: result.problem });
  const resolved = await resolveLostAnswer({
    kratos,
    submission,
    client,
    identifierPointer: deps.identifierPointer,
    flowIssuedAt: result.flowIssuedAt,
    answered: result.answered,
    mayResubmit: !client.signal?.aborted,
    log,
  });
  log.info('lost registration answer resolved', { outcome: resolved.kind, ...('identity' in resolved ? { identity_id: resolved.identity.id } : {}) });
  switch (resolved.kind) {
    case 'created':
      return Object.assign({}, resolved.result, { how: 'created' as const });
    case 'ours': {
      const { identity, login } = resolved;
      // The session Kratos made with the lost answer has a token nobody holds: revoke it.
      if (login) {
        const revoked = await kratos.revokeOtherSessions(login.sessionToken, Object.assign({}, client, { signal: undefined }));
        if (revoked.kind !== 'ok') log.warn('could not revoke the session of the lost answer', { kind: revoked.kind });
      }
      return { kind: 'ok', identity, continueWith: [], ...(login ? { session: login.session, sessionToken: login.sessionToken } : {}), how: 'recovered' };
    }
    default:
      throw lostAnswerFailure(log, resolved, result, deps.identifierPointer, () => deps.onLeftBehind(undefined));
  }
}
