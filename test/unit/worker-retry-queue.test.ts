import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { cloudflareRetryQueue, createRetryConsumer, type QueueMessageLike } from '../../src/runtime/worker-retry-queue.ts';
import type { ServiceOutcome, ServiceRunner } from '../../src/services/runner.ts';
import { createLogger } from '../../src/shared/log.ts';

const config = parseConfig({
  kratos: { public_url: 'http://kratos:4433', admin_url: 'http://kratos:4434' },
  secrets: { session: ['s'.repeat(32)] },
  registration: { retry_later: { max_attempts: 4, base_delay_ms: 1000, max_delay_ms: 8000 } },
});
const logger = createLogger({ level: 'error', sink: () => {} });
const context = { traits: { email: 'a@example.com' }, fields: {}, idempotency_key: 'k1' } as any;

function message(body: unknown, attempts: number) {
  const seen: { acked: boolean; retried?: { delaySeconds?: number } | undefined } = { acked: false };
  const msg: QueueMessageLike = {
    id: 'm1',
    body,
    attempts,
    ack: () => void (seen.acked = true),
    retry: (o) => void (seen.retried = o ?? {}),
  };
  return { msg, seen };
}

function runnerAnswering(outcome: ServiceOutcome, calls: unknown[] = []): ServiceRunner {
  return {
    runStage: async () => {
      throw new Error('not used');
    },
    runService: async (call) => {
      calls.push(call);
      return { outcome } as any;
    },
  };
}

const body = { service: 'welcome', context, idempotencyKey: 'k1', requestId: 'r1', attempt: 1 };

describe('Cloudflare Queue retry_later', () => {
  it('sends the job (no password, with the key) after a backoff of whole seconds', async () => {
    const sent: Array<{ body: unknown; options: unknown }> = [];
    const queue = cloudflareRetryQueue({ send: async (b, options) => void sent.push({ body: b, options }) }, config);
    await queue.enqueue({ service: 'welcome', context, idempotencyKey: 'k1', attempt: 1, requestId: 'r1' });
    expect(sent).toEqual([{ body, options: { delaySeconds: 1 } }]);
  });

  it('acks a success, carrying the sign-up key and the attempt number', async () => {
    const calls: any[] = [];
    const consume = createRetryConsumer({ runner: runnerAnswering({ kind: 'ok' } as ServiceOutcome, calls), config, logger });
    const { msg, seen } = message(body, 1);
    await consume({ queue: 'q', messages: [msg] });
    expect(seen).toEqual({ acked: true });
    expect(calls[0]).toMatchObject({ serviceName: 'welcome', stage: 'after', idempotencyKey: 'k1', requestId: 'r1' });
  });

  it('acks a rejection (an answer, not an outage)', async () => {
    const consume = createRetryConsumer({ runner: runnerAnswering({ kind: 'rejected' } as ServiceOutcome), config, logger });
    const { msg, seen } = message(body, 1);
    await consume({ queue: 'q', messages: [msg] });
    expect(seen.acked).toBe(true);
  });

  it('retries a failure with exponential backoff, then leaves it to the dead-letter queue at max_attempts', async () => {
    const consume = createRetryConsumer({ runner: runnerAnswering({ kind: 'failed', reason: 'HTTP 503' } as ServiceOutcome), config, logger, random: () => 0.999999 });
    const delays: Array<number | undefined> = [];
    for (const attempts of [1, 2, 3]) {
      const { msg, seen } = message(body, attempts);
      await consume({ queue: 'q', messages: [msg] });
      expect(seen.acked).toBe(false);
      delays.push(seen.retried?.delaySeconds);
    }
    // Attempts 2 and 3 (deliveries 1 and 2) back off 2 s then 4 s; attempt 4 = max_attempts: retried at once, to the DLQ.
    expect(delays).toEqual([2, 4, undefined]);
  });

  it('does not drop a message that is not a retry job', async () => {
    const consume = createRetryConsumer({ runner: runnerAnswering({ kind: 'ok' } as ServiceOutcome), config, logger });
    const { msg, seen } = message({ nope: true }, 1);
    await consume({ queue: 'q', messages: [msg] });
    expect(seen).toEqual({ acked: false, retried: {} });
  });
});
