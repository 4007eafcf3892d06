import type { Identity } from '@ory/client';
import { AppError, validationError } from '../errors.ts';
import type { MetadataWrites } from '../kratos/port.ts';
import type { StageResult } from '../services/stages.ts';
import type { TemplateContext } from '../services/template.ts';
import type { SignUpDeps } from './deps.ts';
import { throwIfAborted } from './rollback.ts';
import type { AbortLike } from '../shared/abort.ts';

/** A service outcome the client is told about (the sign-up itself succeeded). */
export interface ReportedService {
  service: string;
  outcome: 'failed' | 'rejected' | 'retrying';
}

/** Maps a stage verdict that stops the sign-up to the client's answer. */
function stageError(verdict: Exclude<StageResult['verdict'], { kind: 'proceed' }>, failedCode: 'SERVICE_UNAVAILABLE' | 'SIGNUP_ROLLED_BACK'): AppError {
  if (verdict.kind === 'rejected') return validationError(verdict.errors);
  if (failedCode === 'SIGNUP_ROLLED_BACK') return new AppError('SIGNUP_ROLLED_BACK');
  return verdict.retryable ? new AppError('SERVICE_UNAVAILABLE') : new AppError('SERVICE_FAILED');
}

/**
 * On Workers, work left after the response is dropped unless handed to `waitUntil`: keep the
 * isolate alive until the retry queue is drained (Cloudflare bounds this to about 30 s after the
 * response, so keep `retry_later` delays short there). On Node there is no execution context
 * and the process simply keeps running the queue.
 */
function keepAliveUntilDrained(deps: SignUpDeps): void {
  const queue = deps.retryQueue as { drain?: () => Promise<void> };
  if (!queue.drain || !deps.waitUntil) return;
  deps.waitUntil(queue.drain());
}

/**
 * Runs the `before` services; a veto or failure stops the sign-up before Kratos is called.
 * (A `then`, not an async frame pending during the services' calls: issue 16.)
 */
export function runBeforeServices(deps: SignUpDeps, ctx: TemplateContext, signal: AbortLike | undefined): Promise<void> {
  return deps.services.runStage('before', ctx, { idempotencyKey: ctx.idempotency_key, requestId: deps.requestId, signal }).then((result) => {
    throwIfAborted(signal);
    if (result.verdict.kind === 'proceed') return;
    deps.log.info('sign-up stopped by a before service', { services: result.verdict.services, verdict: result.verdict.kind });
    throw stageError(result.verdict, 'SERVICE_UNAVAILABLE');
  });
}

/**
 * After Kratos created the identity: runs the `after` services, writes metadata (from fields
 * and service responses), queues `retry_later` services. Throws when the sign-up must be
 * undone (a `rollback` service failed, a metadata write failed, the request was aborted); call
 * it inside `withRollback`. Returns what the client is told about services that failed
 * without stopping it.
 */
export function runAfterServices(
  deps: SignUpDeps,
  identity: Identity,
  ctx: TemplateContext,
  fieldMetadata: MetadataWrites,
  signal: AbortLike | undefined,
): Promise<ReportedService[]> {
  const afterCtx: TemplateContext = Object.assign({}, ctx, { identity: { id: identity.id, traits: identity.traits as Record<string, unknown> } });
  // What follows the stage runs once it is over: no async frame waits on the services' calls.
  return deps.services
    .runStage('after', afterCtx, { idempotencyKey: ctx.idempotency_key, requestId: deps.requestId, signal })
    .then((after) => afterStage(deps, identity, ctx, afterCtx, fieldMetadata, after, signal));
}

async function afterStage(
  deps: SignUpDeps,
  identity: Identity,
  ctx: TemplateContext,
  afterCtx: TemplateContext,
  fieldMetadata: MetadataWrites,
  after: StageResult,
  signal: AbortLike | undefined,
): Promise<ReportedService[]> {
  const { log, requestId } = deps;
  // Aborted services failed only because of the abort: the sign-up is undone, whatever their policy.
  throwIfAborted(signal);
  if (after.verdict.kind !== 'proceed') {
    log.info('sign-up stopped by an after service', { services: after.verdict.services, verdict: after.verdict.kind });
    throw stageError(after.verdict, 'SIGNUP_ROLLED_BACK');
  }

  const metadataPublic = Object.assign({}, fieldMetadata.metadataPublic, after.metadataPublic);
  const metadataAdmin = Object.assign({}, fieldMetadata.metadataAdmin, after.metadataAdmin);
  const hasPublic = Object.keys(metadataPublic).length > 0;
  const hasAdmin = Object.keys(metadataAdmin).length > 0;
  if (hasPublic || hasAdmin) {
    const patched = await deps.kratos.patchIdentityMetadata(
      identity.id,
      { ...(hasPublic ? { metadataPublic } : {}), ...(hasAdmin ? { metadataAdmin } : {}) },
      requestId,
    );
    if (patched.kind !== 'ok') {
      log.warn('metadata write failed', { identity_id: identity.id, kind: patched.kind });
      throw new AppError('SIGNUP_ROLLED_BACK');
    }
    if (hasPublic) (identity as { metadata_public?: unknown }).metadata_public = metadataPublic;
  }

  const reported: ReportedService[] = after.reported.map((r) => ({ service: r.service, outcome: r.kind }));
  for (const service of after.retryLater) {
    try {
      await deps.retryQueue.enqueue({ service, context: afterCtx, idempotencyKey: ctx.idempotency_key, attempt: 1, requestId });
      reported.push({ service, outcome: 'retrying' });
    } catch (err) {
      log.error('could not queue a retry_later service', { service, error: err });
      reported.push({ service, outcome: 'failed' });
    }
  }
  if (after.retryLater.length > 0) keepAliveUntilDrained(deps);
  for (const r of reported) log.warn('after service did not complete', { service: r.service, outcome: r.outcome, identity_id: identity.id });
  return reported;
}
