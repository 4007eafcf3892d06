import { AppError } from '../errors.ts';
import type { SignUpDeps } from './deps.ts';
import type { AbortLike } from '../shared/abort.ts';

/** What became of the work done once an identity exists (see `withRollback`). */
export type ScopeResult<T> =
  | { kind: 'done'; value: T }
  /** The identity was deleted again; `answer` says why to the client. */
  | { kind: 'rolled_back'; answer: AppError }
  /** The identity could not be deleted: it is left behind (logged with its id, 500 to the client). */
  | { kind: 'rollback_failed'; answer: AppError };

type RollbackDeps = Pick<SignUpDeps, 'kratos' | 'log' | 'requestId' | 'onLeftBehind' | 'metrics'>;

export function throwIfAborted(signal: AbortLike | undefined): void {
  // The answer for a request cut short by the shutdown deadline or a client that went away.
  if (signal?.aborted) throw new AppError('REQUEST_ABORTED');
}

/**
 * Deletes an identity this request created (its sessions go with it), so a failed sign-up
 * leaves nothing behind. If even that fails, the identity id is logged as an error, the
 * runtime is told (the Node entry exits non-zero on shutdown), and the client gets a 500:
 * a half-made account is never reported as a success. Never cancelled by the request's signal.
 */
export async function rollbackIdentity(deps: RollbackDeps, identityId: string, why: string, answer: AppError): Promise<ScopeResult<never>> {
  const deleted = await deps.kratos
    .deleteIdentity(identityId, deps.requestId)
    .catch((err: unknown) => ({ kind: 'thrown' as const, problem: { reason: err instanceof Error ? err.message : String(err) } }));
  if (deleted.kind === 'ok' || deleted.kind === 'not_found') {
    deps.log.warn('sign-up rolled back', { identity_id: identityId, why });
    deps.metrics?.rollback('ok');
    return { kind: 'rolled_back', answer };
  }
  deps.log.error('ROLLBACK FAILED: identity left behind, remove it by hand', { identity_id: identityId, why, upstream: deleted.problem });
  deps.onLeftBehind(identityId);
  deps.metrics?.rollback('failed');
  return { kind: 'rollback_failed', answer: new AppError('ROLLBACK_FAILED') };
}

/**
 * The one scope for everything done after Kratos created an identity: any failure inside
 * `work` (a service, a metadata write, a session job, the request's abort, a bug) deletes the
 * identity again. No other code path rolls back.
 */
export async function withRollback<T>(deps: RollbackDeps, identityId: string, work: () => Promise<T>): Promise<ScopeResult<T>> {
  try {
    return { kind: 'done', value: await work() };
  } catch (err) {
    if (err instanceof AppError) return rollbackIdentity(deps, identityId, err.code, err);
    deps.log.error('sign-up failed after the identity was created', { identity_id: identityId, error: err });
    return rollbackIdentity(deps, identityId, 'unexpected error', new AppError('INTERNAL_ERROR'));
  }
}
