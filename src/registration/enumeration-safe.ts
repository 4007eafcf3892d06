import type { ContinueWith } from '@ory/client';
import type { FlowOutcome } from '../after-jobs/respond.ts';
import { AppError } from '../errors.ts';
import type { ForwardedClient, RegistrationSubmission } from '../kratos/port.ts';
import type { TemplateContext } from '../services/template.ts';
import { valueAtPointer } from '../shared/json-pointer.ts';
import { normalizeAddress, type SentCode } from '../verification/verify.ts';
import type { SignUpDeps } from './deps.ts';

/**
 * Enumeration-safe sign-up (`registration.enumeration_safe`). A sign-up for an address that
 * already has an account answers like a new sign-up: 200 with `{ verification, continue_with }`
 * and nothing else (a new sign-up's answer drops `identity` and `services` too in this mode).
 * The `existing_account` services are called in the background so the owner can be told. The
 * answer names a real Kratos verification flow (no code is mailed on it): a code tried on it
 * fails like a wrong code, and a re-send on it mails the owner a code, exactly as on a new
 * account's flow. Why the `session` after-job is refused in this mode: a session in the
 * answer would prove the account is new.
 */

/** The registration answer's `verification` field, from Kratos's `continue_with`. */
export function verificationOf(continueWith: ContinueWith[]): SentCode | undefined {
  for (const item of continueWith) {
    if (item.action !== 'show_verification_ui') continue;
    const flow = (item as { flow?: { id?: unknown; verifiable_address?: unknown } }).flow;
    if (typeof flow?.id === 'string' && typeof flow.verifiable_address === 'string') return { flow: flow.id, sent_to: flow.verifiable_address };
  }
  return undefined;
}

/** The one body of a successful enumeration-safe sign-up, new account or not. */
export function enumerationSafeBody(verification: SentCode | undefined, continueWith: ContinueWith[]): Record<string, unknown> {
  return {
    ...(verification ? { verification } : {}),
    continue_with: continueWith.filter((item) => item.action === 'show_verification_ui'),
  };
}

/** The sign-up failed only because the identifier is taken. */
export function isIdentifierTaken(err: unknown): boolean {
  return err instanceof AppError && err.code === 'VALIDATION_FAILED' && err.errors.length > 0 && err.errors.every((e) => e.code === 'IDENTIFIER_TAKEN');
}

/** The answer for a taken address: existing_account services in the background, a fresh verification flow, no email. */
export async function existingAccountAnswer(
  deps: SignUpDeps,
  serviceContext: TemplateContext,
  submission: RegistrationSubmission,
  client: ForwardedClient,
  redirectTo: string | undefined,
): Promise<FlowOutcome> {
  const { log, requestId } = deps;
  log.info('sign-up for an existing account, answered like a new one (enumeration_safe)');
  // Not awaited: the answer must not wait for (or time) the owner's notice.
  const notice = deps.services
    .runStage('existing_account', serviceContext, { idempotencyKey: serviceContext.idempotency_key, requestId })
    .then((result) => {
      for (const run of result.outcomes) {
        if (run.outcome.kind !== 'ok') log.warn('existing_account service did not complete', { service: run.name, outcome: run.outcome.kind });
      }
    })
    .catch((err: unknown) => log.error('existing_account services failed', { error: err }));
  deps.waitUntil?.(notice);

  // The pointer is into the request body (`/traits/email`).
  const address = valueAtPointer({ traits: submission.traits }, deps.identifierPointer);
  let verification: SentCode | undefined;
  if (typeof address === 'string') {
    const created = await deps.kratos.createFlow('verification', { ...client, sessionToken: undefined, signal: undefined });
    if (created.kind === 'flow') verification = { flow: created.flowId, sent_to: normalizeAddress(address) };
    else log.warn('could not create the verification flow of an enumeration-safe answer', { kind: created.kind });
  }
  const continueWith = verification
    ? [{ action: 'show_verification_ui', flow: { id: verification.flow, verifiable_address: verification.sent_to } } as ContinueWith]
    : [];
  return { body: enumerationSafeBody(verification, continueWith), redirectTo };
}
