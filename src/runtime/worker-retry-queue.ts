import type { GatewayConfig } from '../config.ts';
import type { RetryJob, RetryQueue } from '../services/retry-queue.ts';
import { retryDelay, runnerExecutor } from '../services/retry-queue.ts';
import type { ServiceOutcome, ServiceRunner } from '../services/runner.ts';
import type { Logger } from '../shared/log.ts';

/**
 * The durable `retry_later` queue on Cloudflare Workers: a Cloudflare Queue. The sign-up
 * `send()`s the job (before answering); the Worker's `queue()` handler runs it through the
 * service runner, acks on success, retries with exponential backoff and jitter otherwise, and
 * after `registration.retry_later.max_attempts` (the sign-up's own attempt counted, as on Node)
 * lets the queue move it to its dead-letter queue (the consumer's `max_retries` and
 * `dead_letter_queue` in wrangler.toml). Portable: no Node module.
 */

/** The subset of a Queue producer binding used here (structurally `Queue` from workers-types). */
export interface QueueProducerLike {
  send(body: unknown, options?: { delaySeconds?: number }): Promise<unknown>;
}

/** The subset of a delivered message used here. */
export interface QueueMessageLike {
  readonly id: string;
  readonly body: unknown;
  /** Deliveries of this message so far, this one included (1 on the first). */
  readonly attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

export interface MessageBatchLike {
  readonly queue: string;
  readonly messages: readonly QueueMessageLike[];
}

/** What a message holds: the service, its template context (never the password), the sign-up's key. */
export interface WorkerRetryMessage {
  service: string;
  context: RetryJob['context'];
  idempotencyKey: string;
  requestId?: string;
  /** Attempts made before this message was sent (1: the sign-up's own). */
  attempt: number;
}

/** Cloudflare Queues takes whole seconds, at most 12 hours. */
const MAX_DELAY_SECONDS = 43_200;
function toSeconds(ms: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(ms / 1000)));
}

/** Whether a binding looks like a Queue producer. */
export function isQueueProducer(binding: unknown): binding is QueueProducerLike {
  return typeof binding === 'object' && binding !== null && typeof (binding as { send?: unknown }).send === 'function';
}

/** The producer side: the sign-up's `retry_later` jobs go to the queue, first delivery after a backoff delay. */
export function cloudflareRetryQueue(producer: QueueProducerLike, config: GatewayConfig): RetryQueue {
  const rl = config.registration.retry_later;
  return {
    async enqueue(job) {
      const body: WorkerRetryMessage = {
        service: job.service,
        context: job.context,
        idempotencyKey: job.idempotencyKey,
        ...(job.requestId ? { requestId: job.requestId } : {}),
        attempt: job.attempt,
      };
      await producer.send(body, { delaySeconds: toSeconds(retryDelay(job.attempt, rl.base_delay_ms, rl.max_delay_ms)) });
    },
  };
}

function isRetryMessage(body: unknown): body is WorkerRetryMessage {
  const b = body as Partial<WorkerRetryMessage> | null;
  return typeof b === 'object' && b !== null && typeof b.service === 'string' && typeof b.idempotencyKey === 'string' && typeof b.attempt === 'number' && typeof b.context === 'object';
}

export interface RetryConsumerOptions {
  runner: ServiceRunner;
  config: GatewayConfig;
  logger: Logger;
  random?: () => number;
}

/** The consumer side: the Worker's `queue(batch)` handler. */
export function createRetryConsumer(options: RetryConsumerOptions): (batch: MessageBatchLike) => Promise<void> {
  const { config, logger } = options;
  const rl = config.registration.retry_later;
  const execute = runnerExecutor(options.runner);
  const random = options.random ?? Math.random;

  async function handle(msg: QueueMessageLike): Promise<void> {
    if (!isRetryMessage(msg.body)) {
      // Not ours to drop: retried, then left in the dead-letter queue for a human.
      logger.error('retry queue message is not a retry job', { message_id: msg.id });
      msg.retry();
      return;
    }
    const { service, idempotencyKey, requestId } = msg.body;
    // The sign-up made `attempt` attempts before sending; this delivery is the next one.
    const attempt = msg.body.attempt + msg.attempts;
    // The context (fields, traits) is personal data: logs name the service and request only.
    const about = { service, message_id: msg.id, via: 'queue', ...(requestId ? { request_id: requestId } : {}) };
    let outcome: ServiceOutcome;
    try {
      outcome = await execute({ service, context: msg.body.context, idempotencyKey, attempt, ...(requestId ? { requestId } : {}) });
    } catch (err) {
      outcome = { kind: 'failed', reason: `executor threw ${err instanceof Error ? err.name : typeof err}` };
    }
    if (outcome.kind === 'ok') {
      logger.info('retried service succeeded', { ...about, attempts: attempt });
      msg.ack();
      return;
    }
    if (outcome.kind === 'rejected') {
      // An answer, not an outage: asking again would not change it.
      logger.error('retried service rejected the sign-up; giving up', { ...about, attempts: attempt });
      msg.ack();
      return;
    }
    if (attempt >= rl.max_attempts) {
      // Out of attempts: the queue's max_retries (max_attempts - 2) is spent too, so this
      // retry moves it to the dead-letter queue.
      logger.error('service retry gave up; message goes to the dead-letter queue', { ...about, attempts: attempt, reason: outcome.reason });
      msg.retry();
      return;
    }
    logger.warn('retried service failed', { ...about, attempt, reason: outcome.reason });
    msg.retry({ delaySeconds: toSeconds(retryDelay(attempt, rl.base_delay_ms, rl.max_delay_ms, random)) });
  }

  return async (batch) => {
    await Promise.all(batch.messages.map((msg) => handle(msg)));
  };
}
