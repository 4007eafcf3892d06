import type { HttpTransport } from '../shared/http.ts';
import type { Logger } from '../shared/log.ts';
import { observeServiceAttempt } from '../observability/services.ts';
import { noopTelemetry, type Telemetry } from '../observability/telemetry.ts';
import { attemptFunction, attemptHttp, withMetadata, type Attempt, type AttemptDeps, type ServiceFunction, type ServiceOutcome } from './attempt.ts';
import type { ServicesConfig, ServiceConfig } from './config.ts';
import { stageResult, stepsOf, verdictOf, type ServiceRun, type Stage, type StageResult, type StageVerdict } from './stages.ts';
import type { TemplateContext } from './template.ts';
import type { AbortLike } from '../shared/abort.ts';

/**
 * Runs the configured external services of a sign-up stage: one service with its retries
 * (backoff, Retry-After, abort), and a stage step by step. Each attempt is `attempt.ts`; what
 * the runs mean (verdict, report, retry later) is `stages.ts`. It decides nothing about HTTP
 * responses to the client or about Kratos: the sign-up reads the `verdict` and acts.
 */

export type { ServiceFunction, ServiceOutcome } from './attempt.ts';
export type { Stage, StageResult, StageVerdict, ServiceRun } from './stages.ts';
export type { TemplateContext } from './template.ts';

/** One service to run once (with its retries), e.g. from the retry-later queue. */
export interface ServiceCall {
  serviceName: string;
  stage: Stage;
  context: TemplateContext;
  idempotencyKey: string;
  requestId: string;
}

/** Runs the configured services; built once at start. */
export interface ServiceRunner {
  /** Runs a stage's services step by step (a step is one service or one concurrent group). */
  runStage(stage: Stage, ctx: TemplateContext, meta: { idempotencyKey: string; requestId: string; signal?: AbortLike | undefined }): Promise<StageResult>;
  /** Runs one configured service with its retries (the retry-later queue uses this). */
  runService(call: ServiceCall): Promise<ServiceRun>;
}

/** What the runner is built from; clock, sleep, jitter and ids are injectable for tests. */
export interface ServiceRunnerDeps {
  services: ServicesConfig;
  /** Functions for config entries that say `function: name`. */
  functions?: Record<string, ServiceFunction>;
  transport: HttpTransport;
  logger: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): the jitter source. */
  random?: () => number;
  /** A fresh id per attempt, sent as X-Request-Id. */
  newId?: () => string;
  /** A span and a latency sample per attempt; off by default. */
  telemetry?: Telemetry;
}

/** Builds the runner once at start; it throws if a `function:` service has no function. */
export function createServiceRunner(deps: ServiceRunnerDeps): ServiceRunner {
  const now = deps.now ?? (() => Date.now());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = deps.random ?? Math.random;
  const newId = deps.newId ?? (() => crypto.randomUUID());
  const functions = deps.functions ?? {};
  const telemetry = deps.telemetry ?? noopTelemetry;
  const observed = telemetry.metrics.enabled || telemetry.tracing.enabled;
  const attemptDeps: AttemptDeps = { transport: deps.transport, functions, now };
  const byName = new Map(deps.services.map((s) => [s.name, s]));
  // The config does not change after start: plan each stage's steps once.
  const stepsByStage = new Map<Stage, ServiceConfig[][]>();
  const stepsFor = (stage: Stage) => {
    let steps = stepsByStage.get(stage);
    if (!steps) stepsByStage.set(stage, (steps = stepsOf(deps.services, stage)));
    return steps;
  };

  const unregistered = deps.services.filter((s) => s.function !== undefined && !Object.hasOwn(functions, s.function));
  if (unregistered.length > 0) {
    throw new Error(`no function registered for service(s): ${unregistered.map((s) => `${s.name} (function: ${s.function})`).join(', ')}`);
  }

  const abortedAttempt = (): Attempt => ({ outcome: { kind: 'failed', reason: 'aborted', retryable: false } });

  /** Attempt number `n` of a service, with its debug line. */
  function attemptOnce(service: ServiceConfig, ctx: TemplateContext, idempotencyKey: string, log: Logger, signal: AbortLike | undefined, n: number): Promise<Attempt> {
    const attemptId = newId();
    const t0 = now();
    const attempt = () =>
      service.http
        ? attemptHttp(attemptDeps, service, ctx, idempotencyKey, attemptId, signal)
        : attemptFunction(attemptDeps, service, ctx, idempotencyKey, attemptId, signal);
    const pending = observed ? observeServiceAttempt(telemetry, service, n, attempt) : attempt();
    if (log.enabled?.('debug') === false) return pending;
    return pending.then((last) => {
      const o = last.outcome;
      // Never headers, URL or bodies: they may carry secrets and personal data.
      log.debug('service attempt', {
        service: service.name,
        attempt: n,
        attempt_id: attemptId,
        result: o.kind,
        ...(o.kind === 'failed' ? { reason: o.reason } : {}),
        duration_ms: now() - t0,
      });
      return last;
    });
  }

  /** No further attempt after attempt `n`: it did not fail retryably, the retries are used up, or the request is aborted. */
  const isFinal = (service: ServiceConfig, last: Attempt, n: number, signal: AbortLike | undefined): boolean =>
    last.outcome.kind !== 'failed' || !last.outcome.retryable || n > service.retries || signal?.aborted === true;

  /**
   * A service with its retries (backoff, Retry-After, abort). The first attempt is a promise
   * and a `then`, not an async frame waiting on the upstream call (issue 16: frames pending
   * per request are what a young-generation GC copies); retries continue in `retry`.
   */
  function runOne(service: ServiceConfig, ctx: TemplateContext, idempotencyKey: string, log: Logger, signal?: AbortLike): Promise<ServiceRun> {
    const startedAt = now();
    if (signal?.aborted) return Promise.resolve(finish(service, abortedAttempt(), 0, startedAt, log));
    return attemptOnce(service, ctx, idempotencyKey, log, signal, 1).then((first) =>
      isFinal(service, first, 1, signal) ? finish(service, first, 1, startedAt, log) : retry(service, ctx, idempotencyKey, log, signal, startedAt, first),
    );
  }

  /** After a retryable failure of attempt 1: wait, try again, until an attempt is final. */
  async function retry(service: ServiceConfig, ctx: TemplateContext, idempotencyKey: string, log: Logger, signal: AbortLike | undefined, startedAt: number, first: Attempt): Promise<ServiceRun> {
    let attempts = 1;
    let last = first;
    for (;;) {
      const o = last.outcome as Extract<ServiceOutcome, { kind: 'failed' }>;
      // Full jitter (AWS's "exponential backoff and jitter"): spreads retries of many
      // sign-ups hitting one recovering service.
      let delay = Math.floor(random() * service.retry_backoff_ms * 2 ** (attempts - 1));
      if (last.retryAfterMs !== undefined) {
        if (last.retryAfterMs > service.retry_after_cap_ms) {
          // Waiting less than asked would just be refused again; give up now instead.
          last = { outcome: { ...o, reason: `${o.reason}, Retry-After beyond cap` } };
          break;
        }
        delay = Math.max(delay, last.retryAfterMs);
      }
      await sleep(delay);
      if (signal?.aborted) {
        last = abortedAttempt();
        break;
      }
      attempts++;
      last = await attemptOnce(service, ctx, idempotencyKey, log, signal, attempts);
      if (isFinal(service, last, attempts, signal)) break;
    }
    return finish(service, last, attempts, startedAt, log);
  }

  /** A service's run from its last attempt. */
  function finish(service: ServiceConfig, last: Attempt, attempts: number, startedAt: number, log: Logger): ServiceRun {
    const outcome = withMetadata(service, last.outcome, log);
    const run: ServiceRun = {
      name: service.name,
      stage: service.stage,
      outcome,
      onFailure: service.on_failure,
      attempts,
      startedAt,
      finishedAt: now(),
    };
    if (outcome.kind === 'failed') {
      log.warn('service failed', { service: service.name, reason: outcome.reason, attempts, on_failure: service.on_failure });
    } else if (outcome.kind === 'rejected') {
      log.info('service rejected the sign-up', { service: service.name, pointers: outcome.errors.map((e) => e.pointer) });
    }
    return run;
  }

  return {
    runStage(stage, ctx, meta) {
      const steps = stepsFor(stage);
      // Nothing configured for the stage: its (empty) result at once.
      if (steps.length === 0) return Promise.resolve(stageResult(stage, verdictOf([]), [], []));
      const log = deps.logger.child({ request_id: meta.requestId, stage });
      // One service alone (the common case): no async frame for the stage either.
      if (steps.length === 1 && steps[0]!.length === 1 && !meta.signal?.aborted) {
        return runOne(steps[0]![0]!, ctx, meta.idempotencyKey, log, meta.signal).then((run) => stageResult(stage, verdictOf([run]), [run], []));
      }
      return runSteps(stage, steps, ctx, meta, log);
    },

    async runService(call) {
      const service = byName.get(call.serviceName);
      if (!service || service.stage !== call.stage) throw new Error(`no ${call.stage} service named "${call.serviceName}"`);
      const log = deps.logger.child({ request_id: call.requestId, stage: call.stage });
      return runOne(service, call.context, call.idempotencyKey, log);
    },
  };

  async function runSteps(stage: Stage, steps: ServiceConfig[][], ctx: TemplateContext, meta: { idempotencyKey: string; signal?: AbortLike | undefined }, log: Logger): Promise<StageResult> {
    const outcomes: ServiceRun[] = [];
    const skipped: string[] = [];
    let verdict: StageVerdict = { kind: 'proceed' };
    for (const step of steps) {
      if (verdict.kind !== 'proceed' || meta.signal?.aborted) {
        skipped.push(...step.map((s) => s.name));
        continue;
      }
      // One concurrent group: all run at once and all finish, so the step takes as long
      // as its slowest service and every outcome is known.
      const runs = step.length === 1 ? [await runOne(step[0]!, ctx, meta.idempotencyKey, log, meta.signal)] : await Promise.all(step.map((s) => runOne(s, ctx, meta.idempotencyKey, log, meta.signal)));
      outcomes.push(...runs);
      verdict = verdictOf(runs);
    }
    const result = stageResult(stage, verdict, outcomes, skipped);
    if (skipped.length > 0) log.info('services skipped', { services: skipped });
    return result;
  }
}
