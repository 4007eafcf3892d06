import type { FieldError } from '../errors.ts';
import type { ServiceOutcome } from './attempt.ts';
import type { OnFailure, ServiceConfig, ServicesConfig } from './config.ts';

/**
 * Stage planning, pure: which services form a step, what a step's runs mean for the sign-up
 * (the verdict), and what a stage reports, writes and retries later. No I/O here.
 */

/**
 * `before` identity creation (can veto) or `after` it (knows the identity);
 * `existing_account`: an enumeration-safe sign-up found the address taken (never vetoes).
 */
export type Stage = 'before' | 'after' | 'existing_account';

/** One service's run within a stage. */
export interface ServiceRun {
  name: string;
  stage: Stage;
  outcome: ServiceOutcome;
  onFailure: OnFailure;
  /** HTTP attempts or function calls made (1 + retries used). */
  attempts: number;
  startedAt: number;
  finishedAt: number;
}

/**
 * What the caller must do about a stage. `before`: `rejected` → 400 with `errors`, `failed` →
 * abort (503 when `retryable`, else 502). `after`: a non-`proceed` verdict comes only from a
 * `rollback` service: delete the identity, then answer as for `before`.
 */
export type StageVerdict =
  | { kind: 'proceed' }
  | { kind: 'rejected'; services: string[]; errors: FieldError[] }
  | { kind: 'failed'; services: string[]; reason: string; retryable: boolean };

/** Everything about one stage's run that the registration route needs. */
export interface StageResult {
  stage: Stage;
  verdict: StageVerdict;
  /** Every service that ran, in config order, with its outcome and on_failure policy. */
  outcomes: ServiceRun[];
  /** Services not run because an earlier step stopped the stage. */
  skipped: string[];
  /** Metadata from successful services (config order; later wins), for the identity PATCH. */
  metadataPublic: Record<string, unknown>;
  metadataAdmin: Record<string, unknown>;
  /** `after` failures that do not undo the sign-up (`continue`, or a rejection under `retry_later`): report them. */
  reported: Array<{ service: string; kind: 'rejected' | 'failed'; reason: string }>;
  /** `after` services that failed under `retry_later`: enqueue them. */
  retryLater: string[];
}

/** Groups a stage's services into steps: adjacent concurrent ones form one step. */
export function stepsOf(services: ServicesConfig, stage: Stage): ServiceConfig[][] {
  const steps: ServiceConfig[][] = [];
  let previousConcurrent = false;
  for (const service of services) {
    if (service.stage !== stage) continue;
    const current = steps.at(-1);
    if (service.concurrent && previousConcurrent && current) current.push(service);
    else steps.push([service]);
    previousConcurrent = service.concurrent;
  }
  return steps;
}

/** Whether a run undoes the stage: any problem in `before`, a problem under `rollback` in `after`. */
export function stops(run: ServiceRun): boolean {
  if (run.outcome.kind === 'ok') return false;
  return run.stage === 'before' || run.onFailure === 'rollback';
}

const PROCEED: StageVerdict = Object.freeze({ kind: 'proceed' });

export function verdictOf(runs: ServiceRun[]): StageVerdict {
  if (runs.every((r) => r.outcome.kind === 'ok')) return PROCEED;
  const stopping = runs.filter(stops);
  // A rejection wins over a failure in the same step: the user has something to fix.
  const rejected = stopping.filter((r) => r.outcome.kind === 'rejected');
  if (rejected.length > 0) {
    return {
      kind: 'rejected',
      services: rejected.map((r) => r.name),
      errors: rejected.flatMap((r) => (r.outcome.kind === 'rejected' ? r.outcome.errors : [])),
    };
  }
  if (stopping.length > 0) {
    const failures = stopping.map((r) => r.outcome).filter((o) => o.kind === 'failed');
    return {
      kind: 'failed',
      services: stopping.map((r) => r.name),
      reason: failures.map((o) => o.reason).join('; '),
      // Only worth a retry by the client when every failure looked transient.
      retryable: failures.every((o) => o.retryable === true),
    };
  }
  return PROCEED;
}

/** What a stage's runs add up to: metadata to write, failures to report, services to retry later. */
export function stageResult(stage: Stage, verdict: StageVerdict, outcomes: ServiceRun[], skipped: string[]): StageResult {
  const result: StageResult = { stage, verdict, outcomes, skipped, metadataPublic: {}, metadataAdmin: {}, reported: [], retryLater: [] };
  for (const run of outcomes) {
    const o = run.outcome;
    if (o.kind === 'ok') {
      Object.assign(result.metadataPublic, o.metadataPublic);
      Object.assign(result.metadataAdmin, o.metadataAdmin);
    } else if (stage === 'after' && !stops(run)) {
      if (run.onFailure === 'retry_later' && o.kind === 'failed') result.retryLater.push(run.name);
      else result.reported.push({ service: run.name, kind: o.kind, reason: o.kind === 'failed' ? o.reason : 'rejected' });
    }
  }
  return result;
}
