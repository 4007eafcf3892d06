import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { fetchTransport } from '../../src/shared/http.ts';
import { createLogger } from '../../src/shared/log.ts';
import { servicesConfigSchema } from '../../src/services/config.ts';
import { createMemoryRetryQueue, runnerExecutor, RetryQueueFullError, type RetryJob } from '../../src/services/retry-queue.ts';
import { createServiceRunner, type ServiceOutcome } from '../../src/services/runner.ts';
import type { TemplateContext } from '../../src/services/template.ts';

const context: TemplateContext = {
  fields: { company: 'Analytical Engines' },
  traits: { email: 'ada@example.com' },
  request: { id: 'req-1' },
  identity: { id: 'id-123', traits: { email: 'ada@example.com' } },
  idempotency_key: 'signup-key-1',
};
const job: RetryJob = { service: 'welcome_mail', context, idempotencyKey: 'signup-key-1', attempt: 1, requestId: 'req-1' };

function setup(outcomes: Array<ServiceOutcome | Error>, options: { maxAttempts?: number; maxPending?: number } = {}) {
  const logs: Array<Record<string, unknown>> = [];
  const sleeps: number[] = [];
  const calls: RetryJob[] = [];
  const queue = createMemoryRetryQueue({
    execute: async (j) => {
      calls.push(j);
      const next = outcomes.shift() ?? { kind: 'failed', reason: 'HTTP 503', retryable: true };
      if (next instanceof Error) throw next;
      return next;
    },
    logger: createLogger({ level: 'debug', sink: (l) => logs.push(JSON.parse(l)) }),
    baseDelayMs: 1000,
    maxDelayMs: 10_000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...options,
  });
  return { queue, logs, sleeps, calls };
}

describe('createMemoryRetryQueue', () => {
  it('retries in the background with backoff until the service succeeds', async () => {
    const { queue, logs, sleeps, calls } = setup([{ kind: 'failed', reason: 'HTTP 503', retryable: true }, new Error('boom'), { kind: 'ok' }]);
    await queue.enqueue(job);
    expect(queue.pending()).toBe(1);
    await queue.drain();
    expect(queue.pending()).toBe(0);
    expect(calls.map((c) => c.attempt)).toEqual([2, 3, 4]);
    expect(calls.every((c) => c.idempotencyKey === 'signup-key-1' && c.service === 'welcome_mail')).toBe(true);
    // Full jitter at 0.5 of 1000·2^(attempt-1), capped at 10 s.
    expect(sleeps).toEqual([500, 1000, 2000]);
    expect(logs.at(-1)).toMatchObject({ level: 'info', msg: 'retried service succeeded', service: 'welcome_mail', attempts: 4, request_id: 'req-1' });
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('gives up after maxAttempts, counting the sign-up attempt, and logs an error', async () => {
    const { queue, logs, calls, sleeps } = setup([], { maxAttempts: 5 });
    await queue.enqueue(job);
    await queue.drain();
    expect(calls).toHaveLength(4);
    expect(sleeps).toEqual([500, 1000, 2000, 4000]);
    const errors = logs.filter((l) => l.level === 'error');
    expect(errors).toEqual([expect.objectContaining({ msg: 'service retry gave up', service: 'welcome_mail', attempts: 5, reason: 'HTTP 503' })]);
    // The context is personal data and stays out of the log.
    expect(JSON.stringify(logs)).not.toContain('ada@example.com');
  });

  it('caps the backoff at maxDelayMs', async () => {
    const { queue, sleeps } = setup([], { maxAttempts: 8 });
    await queue.enqueue({ ...job, attempt: 4 });
    await queue.drain();
    expect(sleeps).toEqual([4000, 5000, 5000, 5000]);
  });

  it('stops at a rejection: asking again would not change it', async () => {
    const { queue, logs, calls } = setup([{ kind: 'rejected', errors: [] }]);
    await queue.enqueue(job);
    await queue.drain();
    expect(calls).toHaveLength(1);
    expect(logs.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['retried service rejected the sign-up; giving up']);
  });

  it('runs jobs independently and drains them all', async () => {
    const { queue, calls } = setup([{ kind: 'ok' }, { kind: 'ok' }, { kind: 'ok' }]);
    await Promise.all([queue.enqueue(job), queue.enqueue({ ...job, service: 'crm_sync' }), queue.enqueue({ ...job, service: 'billing' })]);
    expect(queue.pending()).toBe(3);
    await queue.drain();
    expect(calls.map((c) => c.service).sort()).toEqual(['billing', 'crm_sync', 'welcome_mail']);
    expect(queue.pending()).toBe(0);
  });

  it('refuses jobs beyond maxPending so memory stays bounded', async () => {
    const { queue, logs } = setup([{ kind: 'ok' }], { maxPending: 1 });
    await queue.enqueue(job);
    await expect(queue.enqueue(job)).rejects.toBeInstanceOf(RetryQueueFullError);
    expect(logs.some((l) => l.msg === 'retry queue full; job dropped')).toBe(true);
    await queue.drain();
  });

  it('retries a real HTTP service through the runner with the same idempotency key', async () => {
    const seen: Array<Record<string, string>> = [];
    const answers = [503, 500, 202];
    const app = new Hono();
    app.post('/mail', (c) => {
      seen.push({ key: c.req.header('idempotency-key')!, id: c.req.header('x-request-id')! });
      return c.body(null, (answers.shift() ?? 202) as 202);
    });
    const logs: string[] = [];
    const logger = createLogger({ level: 'debug', sink: (l) => logs.push(l) });
    const runner = createServiceRunner({
      services: servicesConfigSchema.parse([{ name: 'welcome_mail', stage: 'after', on_failure: 'retry_later', retries: 0, http: { url: 'https://mail.example/mail' } }]),
      transport: fetchTransport(async (input, init) => app.request(input, init)),
      logger,
      sleep: async () => {},
    });
    const signUp = await runner.runStage('after', context, { idempotencyKey: 'signup-key-1', requestId: 'req-1' });
    expect(signUp.retryLater).toEqual(['welcome_mail']);

    const queue = createMemoryRetryQueue({ execute: runnerExecutor(runner), logger, sleep: async () => {} });
    await queue.enqueue({ service: 'welcome_mail', context, idempotencyKey: 'signup-key-1', attempt: 1, requestId: 'req-1' });
    await queue.drain();
    expect(seen.map((s) => s.key)).toEqual(['signup-key-1', 'signup-key-1', 'signup-key-1']);
    expect(new Set(seen.map((s) => s.id)).size).toBe(3);
    expect(logs.some((l) => l.includes('retried service succeeded'))).toBe(true);
  });
});
