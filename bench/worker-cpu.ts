/**
 * Part 6 of `npm run bench`: the Worker. The bundle `wrangler deploy --dry-run` builds, run in
 * workerd (Miniflare, as test/workers does) against the zero-cost stand-ins, and driven with the
 * same load generator, connections and pinning as the Node gateway next to it. CPU time per
 * sign-up is what Cloudflare bills; here it is read from the workerd process (/proc/<pid>/stat),
 * so it is the whole runtime's CPU (HTTP parsing, sockets, its threads), an upper bound on the
 * isolate CPU time Cloudflare counts.
 */
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { buildWorkerBundle } from '../scripts/bundle-size.ts';
import { childPids, pinProcess, repoRoot } from './harness.ts';
import type { BenchKit } from './kit.ts';
import type { TargetStats } from './report.ts';

export interface WorkerCpuResult {
  connections: number;
  rounds: number;
  durationSec: number;
  node: TargetStats;
  worker: TargetStats;
  /** workerd CPU per sign-up / Node gateway CPU per sign-up (median of per-round ratios). */
  cpuRatio: number;
  /** workerd sign-ups/s / Node gateway sign-ups/s. */
  throughputRatio: number;
  bundle: { rawKiB: number; gzipKiB: number };
  /** The server core's busy share with all processes (/proc/stat) during the runs, %. */
  coreBusyPct: number;
  /** Whether workerd's threads were pinned to the server core. */
  pinned: boolean;
}

const FULL = { connections: 32, durationSec: 4, warmupSec: 4, rounds: 3 };
const SMOKE = { connections: 8, durationSec: 0.5, warmupSec: 0.3, rounds: 1 };

/** Part 6: workerd's CPU per sign-up against the Node gateway's, same load, same run. */
export async function workerCpuPart(kit: BenchKit): Promise<WorkerCpuResult> {
  const s = kit.smoke ? SMOKE : FULL;
  // Its own folder: test/workers builds into .cache/worker, and both may run at once.
  const bundle = buildWorkerBundle(join(repoRoot, '.cache', 'worker-bench'));
  kit.log(`bench: worker bundle ${(bundle.rawBytes / 1024).toFixed(1)} KiB raw, ${(bundle.gzipBytes / 1024).toFixed(1)} KiB gzip`);
  const before = new Set(childPids(process.pid, 'workerd'));
  const mf = new Miniflare({
    modules: true,
    modulesRoot: join(bundle.path, '..'),
    scriptPath: bundle.path,
    compatibilityDate: '2025-09-01',
    cf: false,
    bindings: { GATEWAY_CONFIG: JSON.stringify({ ...kit.gatewayConfig(), log: { level: 'error' } }) },
    port: 0,
    host: '127.0.0.1',
  });
  const node = await kit.startServer('gateway', { config: kit.gatewayConfig() }).catch(async (err: unknown) => {
    await mf.dispose();
    throw err;
  });
  try {
    const url = (await mf.ready).href.replace(/\/$/, '');
    const workerd = childPids(process.pid, 'workerd').filter((p) => !before.has(p));
    if (workerd.length !== 1) throw new Error(`worker: expected one new workerd process, found ${workerd.length}`);
    const pid = workerd[0]!;
    const pinned = kit.cores.server !== undefined && pinProcess(pid, kit.cores.server);
    if (kit.cores.server !== undefined && !pinned) kit.notes.push('Part 6: workerd could not be pinned to the server CPU.');
    const cmp = await kit.compare(
      [
        { name: 'Node gateway', url: node.url, pid: node.pid },
        { name: 'Worker in workerd', url, pid },
      ],
      { connections: s.connections, durationSec: s.durationSec, warmupSec: s.warmupSec, rounds: s.rounds },
      'worker',
    );
    return {
      connections: s.connections,
      rounds: s.rounds,
      durationSec: s.durationSec,
      node: cmp.stats[0]!,
      worker: cmp.stats[1]!,
      cpuRatio: cmp.ratio(1, 0, 'serverCpuMs'),
      throughputRatio: cmp.ratio(1, 0),
      coreBusyPct: cmp.coreBusyPct,
      bundle: { rawKiB: bundle.rawBytes / 1024, gzipKiB: bundle.gzipBytes / 1024 },
      pinned,
    };
  } finally {
    await Promise.all([node.stop(), mf.dispose()]);
  }
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

export function renderWorkerCpu(w: WorkerCpuResult): string {
  const lines = [`### 6. The Worker (workerd, zero-cost stand-ins, part 2's config, ${w.connections} connections)`, ''];
  lines.push('| target | sign-ups/s | p50 ms | p99 ms | CPU µs per sign-up | server core busy | load core busy | failed |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of [w.node, w.worker]) {
    lines.push(`| ${s.name} | ${f(s.perSec, 0)} | ${f(s.p50, 2)} | ${f(s.p99, 2)} | ${f(s.serverCpuMs * 1000, 0)} | ${f(s.serverBusyPct, 0)}% | ${f(s.loadBusyPct, 0)}% | ${s.failures} |`);
  }
  lines.push(
    '',
    `workerd CPU per sign-up / Node gateway's: **${f(w.cpuRatio, 2)}**; sign-ups/s workerd / Node: ${f(w.throughputRatio, 2)}; ` +
      `server core busy with all processes during these runs: ${f(w.coreBusyPct, 0)}%. ` +
      `Worker bundle (\`wrangler deploy --dry-run\`): ${f(w.bundle.rawKiB)} KiB raw, ${f(w.bundle.gzipKiB)} KiB gzip -9.`,
  );
  return lines.join('\n');
}

/** The "How it was measured" paragraph for part 6. */
export function workerCpuMethod(w: WorkerCpuResult): string {
  return `- **6. The Worker** (bench/worker-cpu.ts). \`scripts/bundle-size.ts\` builds the bundle as
  \`wrangler deploy --dry-run\` does; Miniflare runs it in workerd (the runtime \`wrangler dev\` and
  test/workers use) with part 2's config in \`GATEWAY_CONFIG\`, calling the same stand-ins over
  \`fetch\`. The workerd process is found among this process's children and ${w.pinned ? 'pinned (all threads) to the server CPU' : 'not pinned'};
  the Node gateway (part 2's) runs next to it. Both get the same load, ${w.connections} connections,
  ${w.rounds} alternating rounds of ${w.durationSec} s. "CPU µs per sign-up" is the process's user + system
  time (/proc/<pid>/stat) per sign-up. For workerd that is the whole runtime (HTTP parsing,
  sockets, its I/O threads): Cloudflare bills only the isolate's CPU time, so this is an upper
  bound of the billed figure, measured on the same core as the Node figure.`;
}
