/**
 * The load generator, as seen from the orchestrator: one long-lived child process (pinned to
 * the load core) running autocannon, driven over IPC. Every target of a part gets exactly the
 * same generator, connection count and duration.
 */
import { join } from 'node:path';
import { benchDir, spawnNode, type SpawnedProcess } from './harness.ts';

// Meets the Kratos password policy (length, not similar to the email; HIBP is off).
export const BENCH_PASSWORD = 'bench-Kq7!zT2#pass';

export type Scenario = 'registration' | 'login';

export interface LoadJob {
  /** Origin of the target, e.g. http://127.0.0.1:1234 */
  url: string;
  /**
   * Several origins instead of `url` (several instances of one service): autocannon gives
   * connection i the origin i mod n, so the connections are spread round robin.
   */
  urls?: string[];
  /** Registration only: every sign-up carries a fresh `Idempotency-Key` (never a replay). */
  idempotencyKeys?: boolean;
  scenario: Scenario;
  connections: number;
  durationSec: number;
  /** Makes the emails of this run unique across runs and processes. */
  tag: string;
  /** The account used by the login scenario. */
  login?: { identifier: string; password: string };
}

export interface LoadResult {
  /** 2xx answers: completed sign-ups or sign-ins. */
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSec: number;
  /** ok / duration. */
  perSec: number;
  /** Latency of 2xx answers in ms (sub-millisecond resolution, measured by the generator). */
  p50: number;
  p99: number;
  /** The first non-2xx answer, for the report when something is wrong. */
  firstFailure?: string;
}

export interface LoadGenerator {
  pid: number;
  run(job: LoadJob): Promise<LoadResult>;
  close(): Promise<void>;
}

/** Starts the load-generator child; `cores` pins it (undefined: unpinned). */
export async function startLoadGenerator(cores: string | undefined): Promise<LoadGenerator> {
  const proc: SpawnedProcess = spawnNode(join(benchDir, 'load-worker.ts'), [], { cores, ipc: true });
  await proc.ready;
  let next = 0;
  const pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  proc.child.on('message', (msg: { id: number; result?: LoadResult; error?: string }) => {
    const waiter = pending.get(msg.id);
    if (!waiter) return;
    pending.delete(msg.id);
    if (msg.result) waiter.resolve(msg.result);
    else waiter.reject(new Error(`load generator: ${msg.error}`));
  });
  proc.child.once('exit', (code) => {
    for (const w of pending.values()) w.reject(new Error(`load generator exited (${code})`));
    pending.clear();
  });
  return {
    pid: proc.pid,
    run: (job) =>
      new Promise<LoadResult>((resolve, reject) => {
        const id = ++next;
        // NaN (no 2xx answer in the run) crosses IPC as null: give it back as NaN.
        pending.set(id, { resolve: (r) => resolve({ ...r, p50: r.p50 ?? NaN, p99: r.p99 ?? NaN }), reject });
        proc.child.send({ id, job });
      }),
    close: () => proc.stop(),
  };
}
