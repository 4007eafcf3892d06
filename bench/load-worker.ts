/**
 * Child process: runs autocannon jobs sent over IPC (see load.ts) and answers with the
 * numbers. Latencies are taken from autocannon's per-response event (float ms), not its
 * histogram, which rounds to whole milliseconds.
 */
import { createRequire } from 'node:module';
import { BENCH_PASSWORD, type LoadJob, type LoadResult } from './load.ts';
import { percentile } from './harness.ts';

interface AutocannonRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  onResponse?: (status: number, body: string) => void;
}

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}

interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}

type Autocannon = (
  opts: { url: string | string[]; connections: number; duration: number; pipelining: number; timeout: number; requests: AutocannonRequest[] },
  done: (err: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function run(job: LoadJob): Promise<LoadResult> {
  let counter = 0;
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  let firstFailure: string | undefined;
  const onResponse = (status: number, body: string) => {
    if ((status < 200 || status > 299) && firstFailure === undefined) firstFailure = `${status} ${body.slice(0, 300)}`;
  };
  const request: AutocannonRequest =
    job.scenario === 'registration'
      ? {
          method: 'POST',
          path: '/v1/registration',
          headers,
          // Every sign-up needs a new email (and key); the counter is shared by all connections.
          setupRequest: (req) => {
            const n = ++counter;
            return {
              ...req,
              ...(job.idempotencyKeys ? { headers: { ...headers, 'idempotency-key': `bench-${job.tag}-${n}` } } : {}),
              body: JSON.stringify({ traits: { email: `bench-${job.tag}-${n}@example.com` }, password: BENCH_PASSWORD }),
            };
          },
          onResponse,
        }
      : { method: 'POST', path: '/v1/login', headers, body: JSON.stringify(job.login), onResponse };
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: job.urls ?? job.url, connections: job.connections, duration: job.durationSec, pipelining: 1, timeout: 30, requests: [request] },
      (err, result) => {
        if (err) return reject(err);
        const durationSec = result.duration;
        resolve({
          ok: latencies.length,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          durationSec,
          perSec: latencies.length / durationSec,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          ...(firstFailure !== undefined ? { firstFailure } : {}),
        });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

process.on('message', (msg: { id: number; job: LoadJob }) => {
  run(msg.job).then(
    (result) => process.send!({ id: msg.id, result }),
    (err: unknown) => process.send!({ id: msg.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
// The parent closes the channel when it is done (or dies): leave with it.
process.on('disconnect', () => process.exit(0));
console.log(JSON.stringify({ ready: true }));
