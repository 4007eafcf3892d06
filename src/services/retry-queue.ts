import type { Logger } from '../shared/log.ts';
import type { ServiceOutcome, ServiceRunner } from './runner.ts';
import type { TemplateContext } from './template.ts';

/**
 * Background retries for `after` services with `on_failure: retry_later`: the sign-up has
 * succeeded, and the service is called again later with the same idempotency key, so a
 * service that did get the first call can dedupe.
 */

/** A service call to retry. Plain JSON, so a durable queue can store it as is. */
export interface RetryJob {
  service: string;
  context: TemplateContext;
  idempotencyKey: string;
  /** Attempts made so far, counting the one during the sign-up (so usually 1 at enqueue). */
  attempt: number;
  /** The sign-up's request id, for log correlation. */
  requestId?: string;
}

/** Where `retry_later` jobs go. A durable implementation (a database, a Workers Queue) can replace the memory one. */
export interface RetryQueue {
  enqueue(job: RetryJob): Promise<void>;
}

/** The in-memory queue, with what tests and shutdown need. */
export interface MemoryRetryQueue extends RetryQueue {
  /** Resolves when every job has succeeded or given up. */
  drain(): Promise<void>;
  /** Jobs not finished yet. */
  pending(): number;
}

/** Settings of the in-memory queue. */
export interface MemoryRetryQueueOptions {
  /** Runs one attempt of a job (see `runnerExecutor`). */
  execute: (job: RetryJob) => Promise<ServiceOutcome>;
  logger: Logger;
  /** Total attempts per job, the sign-up's own included. */
  maxAttempts?: number;
  /** Backoff base and ceiling, with full jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Jobs held at once; beyond it `enqueue` rejects, so memory stays bounded. */
  maxPending?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Told about a job that ran out of attempts (metrics). */
  onGiveUp?: (job: RetryJob) => void;
}

/** Thrown by `enqueue` when the in-memory queue is full. */
export class RetryQueueFullError extends Error {
  constructor() {
    super('retry queue is full');
    this.name = 'RetryQueueFullError';
  }
}

/**
 * Delay before retry `n` (1 = the first retry after the sign-up's own attempt): exponential,
 * capped, with "equal jitter" (between half and all of it), so delays never collapse to zero.
 */
export function retryDelay(n: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, n - 1));
  return Math.floor(ceiling / 2 + random() * (ceiling / 2));
}

/** Executes a job through the service runner (the runner's own per-call retries included). */
export function runnerExecutor(runner: ServiceRunner, newId: () => string = () => crypto.randomUUID()) {
  return async (job: RetryJob): Promise<ServiceOutcome> => {
    const run = await runner.runService({
      serviceName: job.service,
      stage: 'after',
      context: job.context,
      idempotencyKey: job.idempotencyKey,
      requestId: job.requestId ?? newId(),
    });
    return run.outcome;
  };
}

/**
 * An in-memory retry queue: each job is retried in the background with exponential backoff
 * and full jitter, up to `maxAttempts`; a job that never succeeds is logged as an error.
 * NOT durable: jobs still pending are lost when the process (or Workers isolate) stops.
 */
export function createMemoryRetryQueue(options: MemoryRetryQueueOptions): MemoryRetryQueue {
  const maxAttempts = options.maxAttempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 1000;
  const maxDelayMs = options.maxDelayMs ?? 60_000;
  const maxPending = options.maxPending ?? 1000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const log = options.logger;
  const running = new Set<Promise<void>>();

  async function work(job: RetryJob): Promise<void> {
    // The context (fields, traits) is personal data: logs name the service and request only.
    const about = { service: job.service, ...(job.requestId ? { request_id: job.requestId } : {}) };
    let attempt = job.attempt;
    let reason = 'no attempt left';
    while (attempt < maxAttempts) {
      await sleep(Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1))));
      attempt++;
      let outcome: ServiceOutcome;
      try {
        outcome = await options.execute({ ...job, attempt });
      } catch (err) {
        outcome = { kind: 'failed', reason: `executor threw ${err instanceof Error ? err.name : typeof err}` };
      }
      if (outcome.kind === 'ok') {
        log.info('retried service succeeded', { ...about, attempts: attempt });
        return;
      }
      if (outcome.kind === 'rejected') {
        // A rejection is an answer, not an outage: asking again would not change it.
        log.error('retried service rejected the sign-up; giving up', { ...about, attempts: attempt });
        return;
      }
      reason = outcome.reason;
      log.warn('retried service failed', { ...about, attempt, reason });
    }
    log.error('service retry gave up', { ...about, attempts: attempt, reason });
    options.onGiveUp?.(job);
  }

  return {
    async enqueue(job) {
      if (running.size >= maxPending) {
        log.error('retry queue full; job dropped', { service: job.service });
        throw new RetryQueueFullError();
      }
      const task = work(job)
        .catch((err: unknown) => log.error('retry job crashed', { service: job.service, error: err }))
        .finally(() => running.delete(task));
      running.add(task);
    },
    async drain() {
      while (running.size > 0) await Promise.all([...running]);
    },
    pending: () => running.size,
  };
}
