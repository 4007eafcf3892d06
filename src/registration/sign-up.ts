import type { ContinueWith } from '@ory/client';
import { replaySessionJobs } from '../after-jobs/replay.ts';
import type { FlowOutcome } from '../after-jobs/respond.ts';
import { AppError } from '../errors.ts';
import { atLeast } from '../shared/min-duration.ts';
import { existingAccountAnswer, isIdentifierTaken, verificationOf, enumerationSafeBody } from './enumeration-safe.ts';
import type { ForwardedClient, MetadataWrites, RegistrationSubmission } from '../kratos/port.ts';
import type { TemplateContext } from '../services/template.ts';
import type { Delivery } from '../session/config.ts';
import { createIdentity } from './create-identity.ts';
import type { SignUpDeps } from './deps.ts';
import { rollbackIdentity, throwIfAborted, withRollback, type ScopeResult } from './rollback.ts';
import { runAfterServices, runBeforeServices } from './run-services.ts';
import type { AbortLike } from '../shared/abort.ts';

export interface SignUpInput {
  /** The validated extra fields (what services see, with the traits). */
  fields: Record<string, unknown>;
  /** What goes to Kratos, and the metadata to write (see `toSubmission`). */
  submission: RegistrationSubmission;
  metadata: MetadataWrites;
  idempotencyKey: string;
  delivery: Delivery;
  /** The redirect job's target, already checked against the allow-list. */
  redirectTo: string | undefined;
  /** The client as forwarded to Kratos, with the request's abort signal. */
  client: ForwardedClient & { signal: AbortLike };
  /** How the identity is made; the password flow by default (code sign-up: the verify step, issue 14). */
  create?: typeof createIdentity;
}

/** `done`: signed up; otherwise the identity was (or could not be) removed again. */
export type SignUpResult = ScopeResult<FlowOutcome>;

/** continue_with items for the client: the token item is dropped (the token has its own field). */
function clientContinueWith(items: ContinueWith[]): ContinueWith[] {
  return items.filter((item) => item.action !== 'set_ory_session_token');
}

/**
 * A sign-up: before services → Kratos registration (expiry replay, lost-answer resolution) →
 * after services and metadata → session and redirect after-jobs. Throws an AppError while no
 * identity exists; once one does, every failure rolls it back (`withRollback`).
 */
export async function signUp(deps: SignUpDeps, input: SignUpInput): Promise<SignUpResult> {
  const { log, plan } = deps;
  const { submission, metadata, delivery, client } = input;
  const { signal } = client;
  // What external services may see: never the password.
  const serviceContext: TemplateContext = {
    fields: input.fields,
    traits: submission.traits,
    request: { id: deps.requestId, ip: client.clientIp, user_agent: client.userAgent },
    idempotency_key: input.idempotencyKey,
  };
  const startedAt = deps.now();
  await runBeforeServices(deps, serviceContext, signal);
  // --- enumeration-safe sign-up (issue 13): a taken address answers like a new sign-up ---
  const enumerationSafe = deps.registration.enumeration_safe;
  let created: Awaited<ReturnType<typeof createIdentity>>;
  try {
    created = await (input.create ?? createIdentity)(deps, submission, client);
  } catch (err) {
    if (!enumerationSafe || !isIdentifierTaken(err)) throw err;
    const answer = await existingAccountAnswer(deps, serviceContext, submission, client, input.redirectTo);
    await atLeast(startedAt, deps.registration.enumeration_safe_min_ms, deps.now);
    return { kind: 'done', value: answer };
  }
  // --- end enumeration-safe sign-up ---
  const { identity } = created;
  log.info('identity created', { identity_id: identity.id, delivery, ...(created.how === 'recovered' ? { recovered: true } : {}) });

  if (created.how === 'recovered' && (deps.registration.on_lost_answer === 'rollback' || (plan.session && !created.sessionToken))) {
    return rollbackIdentity(deps, identity.id, 'lost answer', new AppError('SIGNUP_ROLLED_BACK'));
  }
  const result = await withRollback(deps, identity.id, async (): Promise<FlowOutcome> => {
    const reported = await runAfterServices(deps, identity, serviceContext, metadata, signal);
    const session = await replaySessionJobs(deps, plan, { session: created.session, token: created.sessionToken }, delivery, client);
    throwIfAborted(signal);
    const continueWith = clientContinueWith(created.continueWith);
    const verification = verificationOf(continueWith);
    if (enumerationSafe) {
      if (!verification) log.warn('enumeration-safe sign-up without a verification flow: is Kratos verification on?');
      // Nothing that only a new account has: no identity, no service report (it is logged).
      return { body: enumerationSafeBody(verification, continueWith), redirectTo: input.redirectTo };
    }
    return {
      body: {
        identity,
        ...session.output,
        ...(verification ? { verification } : {}),
        continue_with: continueWith,
        ...(reported.length > 0 ? { services: reported } : {}),
      },
      cookie: session.cookie,
      redirectTo: input.redirectTo,
    };
  });
  if (enumerationSafe && result.kind === 'done') await atLeast(startedAt, deps.registration.enumeration_safe_min_ms, deps.now);
  return result;
}
