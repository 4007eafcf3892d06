import { createHash } from 'node:crypto';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { GatewayConfig } from '../config.ts';
import type { RetryJob, RetryQueue } from '../services/retry-queue.ts';
import { retryDelay, runnerExecutor } from '../services/retry-queue.ts';
import type { ServiceRunner } from '../services/runner.ts';
import type { Logger } from '../shared/log.ts';
import type { RedisConfig } from '../state/config.ts';

/**
 * The durable `retry_later` queue (Node, `state.backend: redis`), on BullMQ: jobs live in Redis,
 * so they survive a crash or `kill -9` of the gateway and any process with the same config
 * (a gateway, or a `kratos-bff worker`) runs them. Backoff is exponential with jitter; a job
 * out of attempts stays in BullMQ's `failed` set, which is the dead-letter set
 * (`kratos-bff dead-letters list|redrive`).
 */

export { retryDelay };

export const RETRY_QUEUE_NAME = 'retry-later';

/** What a stored job holds: the service, its template context (never the password), the sign-up's key. */
export interface DurableRetryJobData {
  service: string;
  context: RetryJob['context'];
  idempotencyKey: string;
  requestId?: string;
}

/** BullMQ's key prefix under `state.redis.key_prefix`, e.g. `kbff:bull`. */
export function bullPrefix(redis: RedisConfig): string {
  return `${redis.key_prefix}bull`;
}

/** One job per sign-up and service: enqueuing the same sign-up's service again is a no-op. */
export function retryJobId(service: string, idempotencyKey: string): string {
  return `rl-${createHash('sha256').update(`${service}\u0000${idempotencyKey}`).digest('hex').slice(0, 40)}`;
}

/**
 * A connection of BullMQ's own: BullMQ needs `maxRetriesPerRequest: null` (its blocking
 * commands wait for jobs), unlike the fail-fast client of the idempotency store.
 */
function bullConnection(redis: RedisConfig, producer: boolean): Redis {
  return new Redis(redis.url, {
    maxRetriesPerRequest: null,
    connectTimeout: redis.connect_timeout_ms,
    // A producer fails fast while Redis is away, so a sign-up never hangs on its enqueue.
    ...(producer ? { enableOfflineQueue: false, commandTimeout: redis.command_timeout_ms } : {}),
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
}

export interface DurableRetryQueue extends RetryQueue {
  queue: Queue<DurableRetryJobData>;
  close(): Promise<void>;
}

/** The producer side: what the sign-up enqueues into. */
export async function createDurableRetryQueue(config: GatewayConfig, redis: RedisConfig, logger: Logger): Promise<DurableRetryQueue> {
  const connection = bullConnection(redis, true);
  connection.on('error', () => {}); // logged by the idempotency client; never the URL
  const queue = new Queue<DurableRetryJobData>(RETRY_QUEUE_NAME, { connection, prefix: bullPrefix(redis) });
  let lastErrorLog = 0;
  queue.on('error', (err) => {
    if (Date.now() - lastErrorLog < 60_000) return;
    lastErrorLog = Date.now();
    logger.warn('retry queue error', { error: err.message });
  });
  await queue.waitUntilReady();
  const rl = config.registration.retry_later;
  // The sign-up's own attempt counts: BullMQ gets the rest (at least one).
  const attempts = Math.max(1, rl.max_attempts - 1);
  return {
    queue,
    async enqueue(job) {
      const data: DurableRetryJobData = {
        service: job.service,
        context: job.context,
        idempotencyKey: job.idempotencyKey,
        ...(job.requestId ? { requestId: job.requestId } : {}),
      };
      await queue.add(job.service, data, {
        jobId: retryJobId(job.service, job.idempotencyKey),
        attempts,
        delay: retryDelay(job.attempt, rl.base_delay_ms, rl.max_delay_ms),
        backoff: { type: 'kbff-jitter' },
        // Completed jobs are kept a day, so a redelivered enqueue of the same sign-up stays a no-op.
        removeOnComplete: { age: 24 * 3600, count: 10_000 },
        // Kept: the failed set is the dead-letter set.
        removeOnFail: false,
      });
    },
    async close() {
      await queue.close().catch(() => {});
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

export interface RetryWorker {
  /** Stops taking jobs and waits for the running ones up to `graceMs`, then cuts them. */
  close(graceMs: number): Promise<void>;
}

/** The consumer side: runs each job through the service runner; a failure throws so BullMQ retries. */
export async function startRetryWorker(config: GatewayConfig, redis: RedisConfig, runner: ServiceRunner, logger: Logger): Promise<RetryWorker> {
  const connection = bullConnection(redis, false);
  connection.on('error', () => {});
  const rl = config.registration.retry_later;
  const execute = runnerExecutor(runner);
  const worker = new Worker<DurableRetryJobData>(
    RETRY_QUEUE_NAME,
    async (job: Job<DurableRetryJobData>) => {
      const { service, idempotencyKey, requestId } = job.data;
      // attemptsMade counts BullMQ's finished attempts; the sign-up's own was attempt 1.
      const attempt = job.attemptsMade + 2;
      const about = { service, job_id: job.id, ...(requestId ? { request_id: requestId } : {}) };
      const outcome = await execute({ service, context: job.data.context, idempotencyKey, attempt, ...(requestId ? { requestId } : {}) });
      if (outcome.kind === 'ok') {
        logger.info('retried service succeeded', { ...about, attempts: attempt });
        return;
      }
      if (outcome.kind === 'rejected') {
        // An answer, not an outage: asking again would not change it. Dead-lettered at once.
        throw new UnrecoverableError('the service rejected the sign-up');
      }
      logger.warn('retried service failed', { ...about, attempt, reason: outcome.reason });
      throw new Error(outcome.reason);
    },
    {
      connection,
      prefix: bullPrefix(redis),
      concurrency: 4,
      settings: { backoffStrategy: (attemptsMade) => retryDelay(attemptsMade + 1, rl.base_delay_ms, rl.max_delay_ms) },
    },
  );
  worker.on('failed', (job, err) => {
    if (!job) return;
    const out = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (out) logger.error('service retry gave up; job is in the dead-letter set', { service: job.data.service, job_id: job.id, attempts: job.attemptsMade + 1, reason: err.message });
  });
  // While Redis is away the worker fails every poll: log once a minute at most.
  let lastErrorLog = 0;
  worker.on('error', (err) => {
    if (Date.now() - lastErrorLog < 60_000) return;
    lastErrorLog = Date.now();
    logger.warn('retry worker error', { error: err.message });
  });
  await worker.waitUntilReady();
  return {
    async close(graceMs) {
      const closed = worker.close();
      const inTime = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref())]);
      if (!inTime) {
        logger.warn('retry worker still running jobs at the shutdown deadline; they will be retried');
        await worker.close(true).catch(() => {});
      }
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

/** One line per dead-lettered job: ids, service, identity id, attempts, reason; never other context values. */
export function describeDeadLetter(job: Job<DurableRetryJobData>): string {
  const identity = job.data.context?.identity?.id ?? '-';
  const when = job.finishedOn ? new Date(job.finishedOn).toISOString() : '-';
  return `${job.id}\tservice=${job.data.service}\tidentity=${identity}\tattempts=${job.attemptsMade + 1}\tfailed_at=${when}\treason=${JSON.stringify(job.failedReason ?? '')}`;
}

/** `kratos-bff dead-letters list|redrive [jobId|--all]`: returns the exit code. */
export async function deadLetters(config: GatewayConfig, args: string[], out: (line: string) => void): Promise<number> {
  if (config.state.backend !== 'redis' || !config.state.redis) {
    out('dead-letters: needs state.backend: redis (the memory queue keeps nothing)');
    return 2;
  }
  const redis = config.state.redis;
  const connection = bullConnection(redis, false);
  connection.on('error', () => {});
  const queue = new Queue<DurableRetryJobData>(RETRY_QUEUE_NAME, { connection, prefix: bullPrefix(redis) });
  try {
    const [command, target] = args;
    if (command === 'list') {
      const jobs = await queue.getFailed();
      for (const job of jobs) out(describeDeadLetter(job));
      out(`${jobs.length} dead-lettered job(s)`);
      return 0;
    }
    if (command === 'redrive' && target) {
      const jobs = target === '--all' ? await queue.getFailed() : [await queue.getJob(target)].filter((j): j is Job<DurableRetryJobData> => !!j);
      if (jobs.length === 0 && target !== '--all') {
        out(`dead-letters: no job ${target}`);
        return 1;
      }
      let redriven = 0;
      for (const job of jobs) {
        if ((await job.getState()) !== 'failed') {
          out(`${job.id}\tnot dead-lettered; skipped`);
          continue;
        }
        // A fresh attempt budget: the operator has fixed (or waited out) the cause.
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        out(`${job.id}\tredriven\tservice=${job.data.service}`);
        redriven++;
      }
      out(`${redriven} job(s) redriven`);
      return 0;
    }
    out('usage: kratos-bff dead-letters --config gateway.yaml list | redrive <jobId|--all>');
    return 2;
  } finally {
    await queue.close().catch(() => {});
    await connection.quit().catch(() => connection.disconnect());
  }
}
