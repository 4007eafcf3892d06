import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWorkerBundle } from '../../scripts/bundle-size.ts';
import { postJson, uniqueEmail } from '../support/gateway.ts';
import { scenarioConfig, scenarioEnv } from '../support/runtime-scenarios.ts';
import { startStandIn, type StandIn } from '../support/stand-in.ts';

/**
 * `retry_later` on Workers with a Cloudflare Queue: the Worker build inside workerd (Miniflare
 * runs Queues locally), with the `RETRY_LATER` producer and its own consumer bound, against
 * the real Kratos. The service fails during the sign-up, the job goes to the queue, and the
 * Worker's `queue()` handler delivers it later with the sign-up's Idempotency-Key.
 */
describe('worker (workerd): retry_later through a Cloudflare Queue', () => {
  const kratos = inject('kratos');
  let standIn: StandIn;
  let mf: Miniflare;
  let url: string;
  const logs: string[] = [];

  beforeAll(async () => {
    standIn = await startStandIn();
    const raw = scenarioConfig(kratos, standIn.url) as any;
    raw.registration.services = [
      { name: 'welcome', stage: 'after', on_failure: 'retry_later', retries: 0, http: { url: `${standIn.url}/welcome`, body: { identity_id: '{{identity.id}}' } } },
    ];
    raw.registration.retry_later = { max_attempts: 4, base_delay_ms: 200, max_delay_ms: 1000 };
    raw.log = { level: 'info' };
    const bundle = buildWorkerBundle();
    mf = new Miniflare({
      cf: false,
      port: 0,
      handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
        for (const stream of [stdout, stderr]) stream.on('data', (chunk: Buffer) => logs.push(...chunk.toString().split('\n').filter(Boolean)));
      },
      workers: [
        {
          name: 'kratos-bff',
          modules: true,
          modulesRoot: join(bundle.path, '..'),
          scriptPath: bundle.path,
          compatibilityDate: '2025-09-01',
          bindings: { GATEWAY_CONFIG: JSON.stringify(raw), ...scenarioEnv },
          queueProducers: { RETRY_LATER: 'kbff-retry-later' },
          // max_retries = max_attempts - 2: the sign-up's attempt and the first delivery are not retries.
          queueConsumers: { 'kbff-retry-later': { maxBatchTimeout: 1, maxRetries: 2, deadLetterQueue: 'kbff-retry-later-dlq' } },
        },
        {
          // Stands in for whoever reads the dead-letter queue: forwards each message to the stand-in.
          name: 'dlq-reader',
          modules: true,
          compatibilityDate: '2025-09-01',
          script: `export default { async queue(batch, env) { for (const m of batch.messages) { await fetch(env.STAND_IN + '/dlq', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(m.body) }); m.ack(); } } };`,
          bindings: { STAND_IN: standIn.url },
          queueConsumers: { 'kbff-retry-later-dlq': { maxBatchTimeout: 1 } },
        },
      ],
    });
    url = (await mf.ready).href.replace(/\/$/, '');
  });
  afterAll(async () => {
    await mf?.dispose();
    await standIn?.close();
  });

  it('answers "retrying", then the queue consumer delivers one successful call with the sign-up key', async () => {
    // Fails during the sign-up (and once more), then succeeds.
    standIn.on('/welcome', ({ count }) => (count <= 2 ? { status: 503 } : { status: 200, body: {} }));
    const email = uniqueEmail('worker-queue');
    const key = `key-${email}`;
    const res = await postJson(
      `${url}/v1/registration`,
      { traits: { email }, password: 'correct-horse-battery-staple', fields: { company: 'Analytical Engines', accept_terms: true } },
      { 'idempotency-key': key },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.services).toEqual([{ service: 'welcome', outcome: 'retrying' }]);
    expect(standIn.callsTo('/welcome')).toHaveLength(1);

    await expect.poll(() => standIn.callsTo('/welcome').length, { timeout: 20_000, interval: 200 }).toBe(3);
    // Acked: nothing more arrives.
    await new Promise((r) => setTimeout(r, 2500));
    const calls = standIn.callsTo('/welcome');
    expect(calls).toHaveLength(3);
    for (const call of calls) {
      expect(call.headers['idempotency-key']).toBe(key);
      expect(call.body).toEqual({ identity_id: res.body.identity.id });
    }
    // Each delivery came after a backoff of whole seconds (the queue's delaySeconds), not the memory queue's 200 ms.
    expect(calls[1]!.startedAt - calls[0]!.finishedAt).toBeGreaterThanOrEqual(900);
    const consumed = logs.filter((l) => l.includes('"via":"queue"'));
    expect(consumed.some((l) => l.includes('retried service failed'))).toBe(true);
    expect(consumed.filter((l) => l.includes('retried service succeeded'))).toHaveLength(1);
    // The context is personal data: no log line carries the email.
    expect(logs.join('\n')).not.toContain(email);
  });

  it('after max_attempts, leaves the job to the dead-letter queue (key kept, no password)', async () => {
    standIn.reset();
    standIn.on('/welcome', () => ({ status: 503 }));
    const email = uniqueEmail('worker-queue-dlq');
    const key = `key-${email}`;
    const res = await postJson(
      `${url}/v1/registration`,
      { traits: { email }, password: 'correct-horse-battery-staple', fields: { company: 'Analytical Engines', accept_terms: true } },
      { 'idempotency-key': key },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.services).toEqual([{ service: 'welcome', outcome: 'retrying' }]);

    await expect.poll(() => standIn.callsTo('/dlq').length, { timeout: 25_000, interval: 200 }).toBe(1);
    // max_attempts 4: the sign-up's attempt and three queue deliveries.
    expect(standIn.callsTo('/welcome')).toHaveLength(4);
    const [dead] = standIn.callsTo('/dlq');
    expect(dead!.body).toMatchObject({ service: 'welcome', idempotencyKey: key, attempt: 1 });
    expect(dead!.body.context.identity.id).toBe(res.body.identity.id);
    expect(JSON.stringify(dead!.body)).not.toContain('correct-horse-battery-staple');
    expect(logs.some((l) => l.includes('service retry gave up; message goes to the dead-letter queue') && l.includes('"attempts":4'))).toBe(true);
  });
});
