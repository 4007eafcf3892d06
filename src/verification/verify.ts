import { AppError, validationError } from '../errors.ts';
import { kratosFailure } from '../kratos/failure.ts';
import { verificationMessageIds } from '../kratos/messages.ts';
import { runNativeFlow } from '../kratos/native-flow.ts';
import type { ForwardedClient, KratosPort } from '../kratos/port.ts';
import type { Logger } from '../shared/log.ts';

/**
 * Verification by code (kratos-facts-2 §1): send or re-send a code to an address, and check a
 * code. The flow handle the client holds is Kratos's verification flow id as is: Kratos puts
 * the same id in the registration's `continue_with`, the id alone grants nothing (the code goes
 * to the mailbox, and a flow takes at most five tries), and the gateway stays stateless.
 */

export interface VerificationDeps {
  kratos: KratosPort;
  log: Logger;
}

/** What the client gets after a code was sent: the same for known and unknown addresses. */
export interface SentCode {
  flow: string;
  sent_to: string;
}

/** Kratos stores addresses trimmed and lowercased; the answer shows the address that way. */
export function normalizeAddress(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Sends a code to `email`. With `flowId`, re-sends on that flow (Kratos deletes its earlier
 * codes); if that flow cannot take it any more (expired, finished, unknown), a new flow is
 * started, so the client always ends with a flow that has a fresh code.
 */
export async function sendVerificationCode(deps: VerificationDeps, input: { email: string; flowId?: string | undefined; client: ForwardedClient }): Promise<SentCode> {
  const { kratos, log } = deps;
  const email = normalizeAddress(input.email);
  const client: ForwardedClient = { ...input.client, sessionToken: undefined };
  if (input.flowId !== undefined) {
    const resent = await kratos.submitFlow('verification', input.flowId, { email }, client);
    if (resent.kind === 'sent') return { flow: resent.flowId, sent_to: email };
    if (resent.kind === 'invalid') throw validationError(resent.errors);
    if (resent.kind === 'unavailable' || resent.kind === 'upstream_error') throw kratosFailure(log, 'verification', resent);
    log.info('verification flow cannot take a re-send; starting a new one', { outcome: resent.kind });
  }
  const result = await runNativeFlow(kratos, 'verification', { email }, client, {
    onExpired: () => log.info('verification flow expired between create and submit; retrying with a new flow'),
  });
  switch (result.kind) {
    case 'sent':
      return { flow: result.flowId, sent_to: email };
    case 'invalid':
      throw validationError(result.errors);
    case 'signed_in':
    case 'unavailable':
    case 'upstream_error':
      throw kratosFailure(log, 'verification', result);
    default:
      throw kratosFailure(log, 'verification', { kind: 'upstream_error', problem: { reason: `verification send ended in ${result.kind}` } });
  }
}

/** Why a replaced flow was replaced, from the messages Kratos put into the replacement. */
async function replacedError(deps: VerificationDeps, newFlowId: string | undefined, client: ForwardedClient): Promise<AppError> {
  if (newFlowId === undefined) return new AppError('VERIFICATION_FLOW_EXPIRED');
  const replacement = await deps.kratos.getFlow('verification', newFlowId, client);
  if (replacement.kind !== 'ok') {
    deps.log.warn('could not read the replacement verification flow', { kind: replacement.kind });
    return new AppError('VERIFICATION_FLOW_EXPIRED');
  }
  const ids = replacement.messageIds;
  if (ids.includes(verificationMessageIds.alreadyDone)) return new AppError('VERIFICATION_ALREADY_DONE');
  if (ids.includes(verificationMessageIds.flowExpired)) return new AppError('CODE_EXPIRED');
  // Kratos's "The request was submitted too often" (6th code submission on one flow).
  if (ids.includes(verificationMessageIds.generic)) return new AppError('CODE_ATTEMPTS_EXCEEDED');
  return new AppError('VERIFICATION_FLOW_EXPIRED');
}

/** Checks `code` on flow `flowId`. Resolves when the address is verified; throws an AppError otherwise. */
export async function verifyCode(deps: VerificationDeps, input: { flowId: string; code: string; client: ForwardedClient }): Promise<void> {
  const { kratos, log } = deps;
  const client: ForwardedClient = { ...input.client, sessionToken: undefined };
  const result = await kratos.submitFlow('verification', input.flowId, { code: input.code }, client);
  switch (result.kind) {
    case 'verified':
      log.info('address verified');
      return;
    case 'invalid':
      throw validationError(result.errors);
    case 'expired':
      throw new AppError('VERIFICATION_FLOW_EXPIRED');
    case 'code_expired':
      throw new AppError('CODE_EXPIRED');
    case 'replaced':
      throw await replacedError(deps, result.newFlowId, client);
    case 'unavailable':
    case 'upstream_error':
      throw kratosFailure(log, 'verification', result);
    case 'sent':
    case 'signed_in':
      throw kratosFailure(log, 'verification', { kind: 'upstream_error', problem: { reason: `verification code submit ended in ${result.kind}` } });
  }
}
