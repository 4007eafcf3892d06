import type { Identity } from '@ory/client';
import type { AppContext } from '../app-env.ts';
import { AppError, validationError } from '../errors.ts';
import type { MetadataWrites } from '../kratos/client.ts';
import type { StageResult } from '../services/runner.ts';
import type { TemplateContext } from '../services/template.ts';

/** A service outcome the client is told about (the sign-up itself succeeded). */
export interface ReportedService {
  service: string;
  outcome: 'failed' | 'rejected' | 'retrying';
}

/** Maps a stage verdict that stops the sign-up to the client's answer. */
function stageError(verdict: Exclude<StageResult['verdict'], { kind: 'proceed' }>, failedCode: 'SERVICE_UNAVAILABLE' | 'SIGNUP_ROLLED_BACK'): AppError {
  if (verdict.kind === 'rejected') return validationError(verdict.errors);
  if (failedCode === 'SIGNUP_ROLLED_BACK') return new AppError('SIGNUP_ROLLED_BACK');
  return verdict.retryable
    ? new AppError('SERVICE_UNAVAILABLE')
    : new AppError('SERVICE_FAILED');
}

/**
 * On Workers, work left after the response is dropped unless handed to `waitUntil`: keep the
 * isolate alive until the retry queue is drained (Cloudflare bounds this to about 30 s after the
 * response, so keep `retry_later` delays short there). On Node there is no execution context
 * and the process simply keeps running the queue.
 */
function keepAliveUntilDrained(c: AppContext): void {
  const queue = c.get('retryQueue') as { drain?: () => Promise<void> };
  if (!queue.drain) return;
  let ctx: { waitUntil(p: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    return; // Node: no ExecutionContext
  }
  ctx.waitUntil(queue.drain());
}

/** Runs the `before` services; a veto or failure stops the sign-up before Kratos is called. */
export async function runBeforeServices(c: AppContext, ctx: TemplateContext, signal: AbortSignal | undefined): Promise<void> {
  const result = await c.get('services').runStage('before', ctx, { idempotencyKey: ctx.idempotency_key, requestId: c.get('requestId'), signal });
  throwIfAborted(signal);
  if (result.verdict.kind === 'proceed') return;
  c.get('log').info('sign-up stopped by a before service', { services: result.verdict.services, verdict: result.verdict.kind });
  throw stageError(result.verdict, 'SERVICE_UNAVAILABLE');
}

/** What became of the work done once an identity exists (see `withRollback`). */
export type ScopeResult<T> =
  | { kind: 'done'; value: T }
  /** The identity was deleted again; `answer` says why to the client. */
  | { kind: 'rolled_back'; answer: AppError }
  /** The identity could not be deleted: it is left behind (logged with its id, 500 to the client). */
  | { kind: 'rollback_failed'; answer: AppError };

/** The answer for a request cut short by the shutdown deadline or a client that went away. */
export function abortedError(): AppError {
  return new AppError('REQUEST_ABORTED');
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError();
}

/**
 * Deletes an identity this request created (its sessions go with it), so a failed sign-up
 * leaves nothing behind. If even that fails, the identity id is logged as an error, the
 * runtime is told (the Node entry exits non-zero on shutdown), and the client gets a 500:
 * a half-made account is never reported as a success. Never cancelled by the request's signal.
 */
export async function rollbackIdentity(c: AppContext, identityId: string, why: string, answer: AppError): Promise<ScopeResult<never>> {
  const deps = c.get('deps');
  const deleted = await deps.kratos
    .deleteIdentity(identityId, c.get('requestId'))
    .catch((err: unknown) => ({ kind: 'thrown' as const, problem: { reason: err instanceof Error ? err.message : String(err) } }));
  if (deleted.kind === 'ok' || deleted.kind === 'not_found') {
    c.get('log').warn('sign-up rolled back', { identity_id: identityId, why });
    return { kind: 'rolled_back', answer };
  }
  c.get('log').error('ROLLBACK FAILED: identity left behind, remove it by hand', { identity_id: identityId, why, upstream: deleted.problem });
  deps.onLeftBehind?.(identityId);
  return { kind: 'rollback_failed', answer: new AppError('ROLLBACK_FAILED') };
}

/**
 * The one scope for everything done after Kratos created an identity: any failure inside
 * `work` (a service, a metadata write, a session job, the request's abort, a bug) deletes the
 * identity again. No other code path rolls back.
 */
export async function withRollback<T>(c: AppContext, identityId: string, work: () => Promise<T>): Promise<ScopeResult<T>> {
  try {
    return { kind: 'done', value: await work() };
  } catch (err) {
    if (err instanceof AppError) return rollbackIdentity(c, identityId, err.code, err);
    c.get('log').error('sign-up failed after the identity was created', { identity_id: identityId, error: err });
    return rollbackIdentity(c, identityId, 'unexpected error', new AppError('INTERNAL_ERROR'));
  }
}

/**
 * After Kratos created the identity: runs the `after` services, writes metadata (from fields
 * and service responses), queues `retry_later` services. Throws when the sign-up must be
 * undone (a `rollback` service failed, a metadata write failed, the request was aborted); call
 * it inside `withRollback`. Returns what the client is told about services that failed
 * without stopping it.
 */
export async function completeSignUp(
  c: AppContext,
  identity: Identity,
  ctx: TemplateContext,
  fieldMetadata: MetadataWrites,
  signal: AbortSignal | undefined,
): Promise<ReportedService[]> {
  const log = c.get('log');
  const afterCtx: TemplateContext = { ...ctx, identity: { id: identity.id, traits: identity.traits as Record<string, unknown> } };
  const after = await c.get('services').runStage('after', afterCtx, { idempotencyKey: ctx.idempotency_key, requestId: c.get('requestId'), signal });
  // Aborted services failed only because of the abort: the sign-up is undone, whatever their policy.
  throwIfAborted(signal);
  if (after.verdict.kind !== 'proceed') {
    log.info('sign-up stopped by an after service', { services: after.verdict.services, verdict: after.verdict.kind });
    throw stageError(after.verdict, 'SIGNUP_ROLLED_BACK');
  }

  const metadataPublic = { ...fieldMetadata.metadataPublic, ...after.metadataPublic };
  const metadataAdmin = { ...fieldMetadata.metadataAdmin, ...after.metadataAdmin };
  const hasPublic = Object.keys(metadataPublic).length > 0;
  const hasAdmin = Object.keys(metadataAdmin).length > 0;
  if (hasPublic || hasAdmin) {
    const patched = await c.get('deps').kratos.patchIdentityMetadata(
      identity.id,
      { ...(hasPublic ? { metadataPublic } : {}), ...(hasAdmin ? { metadataAdmin } : {}) },
      c.get('requestId'),
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
      await c.get('retryQueue').enqueue({ service, context: afterCtx, idempotencyKey: ctx.idempotency_key, attempt: 1, requestId: c.get('requestId') });
      reported.push({ service, outcome: 'retrying' });
    } catch (err) {
      log.error('could not queue a retry_later service', { service, error: err });
      reported.push({ service, outcome: 'failed' });
    }
  }
  if (after.retryLater.length > 0) keepAliveUntilDrained(c);
  for (const r of reported) log.warn('after service did not complete', { service: r.service, outcome: r.outcome, identity_id: identity.id });
  return reported;
}
