/**
 * Part 5 of `npm run bench`: curves instead of single points, all in the same run, with the
 * same load generator, stand-ins and pinning as parts 2 and 3:
 *
 *   a. sign-ups/s and p50/p99 against connections, gateway and hand-written baseline
 *   b. sign-ups/s against the number of before/after services (gateway)
 *   c. peak RSS against concurrent sign-ups, for what `npm start` runs (dist/node.mjs)
 *
 * Each curve says where it bends (see `throughputKnee`, `memoryBend`) and what the CPU
 * readings at that point show, so the reader can check the explanation against the numbers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../scripts/kratos.ts';
import { cpuTimeMs, npmStartNodeFlags, procStatusKb, repoRoot, spawnNode, waitForHttpOk } from './harness.ts';
import type { BenchKit, KitServer } from './kit.ts';
import type { TargetStats } from './report.ts';

export interface CurvesSettings {
  connections: number[];
  services: number[];
  /** Connections for the services curve (part 2's). */
  servicesConnections: number;
  memoryConcurrency: number[];
  durationSec: number;
  warmupSec: number;
  rounds: number;
  memoryDurationSec: number;
}

const FULL: CurvesSettings = {
  connections: [1, 8, 32, 128, 512],
  services: [0, 2, 8],
  servicesConnections: 32,
  memoryConcurrency: [1, 32, 128, 200, 512],
  durationSec: 3,
  warmupSec: 2,
  rounds: 3,
  memoryDurationSec: 8,
};

// A second per point: at 512 connections the first answers take a few hundred ms on a
// busy machine, and a point without answers has no latency.
const SMOKE: CurvesSettings = { ...FULL, durationSec: 1, warmupSec: 0.5, rounds: 1, memoryDurationSec: 1 };

/** Throughput grows by less than this from one point to the next: the curve has bent. */
export const KNEE_GROWTH = 0.1;
/** A core this busy (%) is saturated. */
export const SATURATED_PCT = 90;

/** Where a curve bends and what the CPU readings there say. */
export interface Bend {
  /** Index of the point the curve bends at, or undefined if it does not bend within the points. */
  index: number | undefined;
  /** One generated sentence: the bend, and the readings that explain it (or that they do not). */
  explanation: string;
}

export interface ConnectionsCurve {
  connections: number[];
  gateway: TargetStats[];
  handwritten: TargetStats[];
  /** Gateway / hand-written sign-ups/s per point (median of per-round ratios). */
  ratio: number[];
  /** The server core's busy share with all processes during each point's runs, %. */
  coreBusyPct: number[];
  gatewayBend: Bend;
  handwrittenBend: Bend;
}

export interface ServicesCurve {
  connections: number;
  /** before + after services (half each). */
  services: number[];
  gateway: TargetStats[];
  /** Sign-ups/s relative to the point without services (same rounds). */
  relative: number[];
  /** The server core's busy share with all processes during the curve's runs, %. */
  coreBusyPct: number;
  bend: Bend;
}

export interface MemoryPoint {
  concurrency: number;
  idleRssMiB: number;
  peakRssMiB: number;
  perSec: number;
  /** Share of the server core the gateway used during the run, %. */
  busyPct: number;
  failures: number;
}

export interface MemoryCurve {
  durationSec: number;
  points: MemoryPoint[];
  bend: Bend;
}

export interface CurvesResult {
  settings: CurvesSettings;
  connections: ConnectionsCurve;
  services: ServicesCurve;
  memory: MemoryCurve;
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

/**
 * Why a throughput curve stopped growing at `s`, from the CPU readings only. `coreBusyPct`:
 * the server core's busy share with all processes (/proc/stat) at that point.
 */
function cpuReason(s: TargetStats, coreBusyPct = NaN): string {
  if (s.serverBusyPct >= SATURATED_PCT) {
    return `the server core is ${f(s.serverBusyPct, 0)}% busy there: the pinned core is saturated, so more connections only queue (latency ≈ connections / throughput)`;
  }
  if (s.loadBusyPct >= SATURATED_PCT) {
    return `the load core (generator and stand-ins) is ${f(s.loadBusyPct, 0)}% busy there while the server core is ${f(s.serverBusyPct, 0)}%: the load side, not the server, sets the pace`;
  }
  if (coreBusyPct >= SATURATED_PCT) {
    return `the server used ${f(s.serverBusyPct, 0)}% of its core there while the core was ${f(coreBusyPct, 0)}% busy with all processes: other processes on that core set the pace (a shared machine), not the server`;
  }
  return `neither core is saturated there (server ${f(s.serverBusyPct, 0)}%, load ${f(s.loadBusyPct, 0)}%): CPU does not explain this bend`;
}

/**
 * The knee of a throughput curve: the first point after which throughput grows by no more
 * than KNEE_GROWTH (10%) to the next point.
 */
export function throughputKnee(xs: number[], stats: TargetStats[], unit: string, coreBusyPct: number[] = []): Bend {
  for (let i = 1; i < stats.length; i++) {
    const gain = stats[i]!.perSec / stats[i - 1]!.perSec - 1;
    if (gain <= KNEE_GROWTH) {
      const at = stats[i - 1]!;
      return {
        index: i - 1,
        explanation: `bends at ${xs[i - 1]} ${unit} (${f(at.perSec, 0)}/s; ${xs[i]} ${unit}: ${gain >= 0 ? '+' : ''}${f(gain * 100, 0)}%): ${cpuReason(at, coreBusyPct[i - 1])}`,
      };
    }
  }
  const last = stats[stats.length - 1];
  return { index: undefined, explanation: `still grows by more than ${KNEE_GROWTH * 100}% at every step${last ? `; at ${xs[xs.length - 1]} ${unit}: ${cpuReason(last, coreBusyPct[xs.length - 1])}` : ''}` };
}

/**
 * Where throughput against services bends: the first point that loses more than 10% against
 * the one before, with the gateway CPU each added service costs.
 */
export function servicesBend(services: number[], stats: TargetStats[], coreBusyPct = NaN): Bend {
  const perService = (i: number) => ((stats[i]!.serverCpuMs - stats[i - 1]!.serverCpuMs) * 1000) / (services[i]! - services[i - 1]!);
  const costs = stats.slice(1).map((_, j) => `${services[j]}→${services[j + 1]}: ${f(perService(j + 1), 0)} µs of gateway CPU per added service`);
  for (let i = 1; i < stats.length; i++) {
    const change = stats[i]!.perSec / stats[i - 1]!.perSec - 1;
    if (change < -KNEE_GROWTH) {
      return { index: i, explanation: `bends at ${services[i]} services (${f(change * 100, 0)}% against ${services[i - 1]}): ${cpuReason(stats[i]!, coreBusyPct)}; ${costs.join('; ')}` };
    }
  }
  return { index: undefined, explanation: `loses no more than ${KNEE_GROWTH * 100}% at any step; ${costs.join('; ')}` };
}

/**
 * Where peak RSS against concurrency bends: the first point after which the RSS each added
 * concurrent sign-up costs changes by more than 2× (either way), with the throughput and
 * server core readings there.
 */
export function memoryBend(points: MemoryPoint[]): Bend {
  const slope = (i: number) => ((points[i]!.peakRssMiB - points[i - 1]!.peakRssMiB) * 1024) / (points[i]!.concurrency - points[i - 1]!.concurrency);
  const slopes = points.slice(1).map((_, j) => `${points[j]!.concurrency}→${points[j + 1]!.concurrency}: ${f(slope(j + 1), 0)} KiB`);
  const summary = `peak RSS per added concurrent sign-up ${slopes.join(', ')}`;
  for (let i = 2; i < points.length; i++) {
    const before = slope(i - 1);
    const after = slope(i);
    if (before > 0 && (after > 2 * before || after < before / 2)) {
      const p = points[i - 1]!;
      const saturated = p.busyPct >= SATURATED_PCT ? `the server core is ${f(p.busyPct, 0)}% busy there (saturated: more connections queue as in-flight requests)` : `the server core is ${f(p.busyPct, 0)}% busy there (not saturated)`;
      return { index: i - 1, explanation: `bends at ${p.concurrency} concurrent (${f(before, 0)} → ${f(after, 0)} KiB per added sign-up); ${saturated}; ${summary}` };
    }
  }
  return { index: undefined, explanation: `no bend of more than 2× in the cost per added sign-up; ${summary}` };
}

/** `before`/`after` services for the services curve: n/2 of each, all on the stand-in. */
function servicesConfig(base: Record<string, unknown>, servicesUrl: string, n: number): Record<string, unknown> {
  const services = Array.from({ length: n }, (_, i) =>
    i < n / 2
      ? { name: `before_${i}`, stage: 'before', retries: 0, http: { method: 'POST', url: `${servicesUrl}/services/before`, body: { email: '{{traits.email}}' } } }
      : {
          name: `after_${i}`,
          stage: 'after',
          on_failure: 'continue',
          retries: 0,
          http: { method: 'POST', url: `${servicesUrl}/services/after`, body: { identity_id: '{{identity.id}}', email: '{{traits.email}}' } },
        },
  );
  return { ...base, registration: { ...(base.registration as Record<string, unknown> | undefined), services } };
}

async function connectionsAndServices(kit: BenchKit, cs: CurvesSettings): Promise<{ connections: ConnectionsCurve; services: ServicesCurve }> {
  const base = kit.gatewayConfig();
  // The gateway with part 2's two services is both the connections curve's gateway and the
  // services curve's "2" point; the others are the same config with 0 and 8 services.
  const serviceCounts = cs.services;
  // One after the other: four tsx start-ups at once on a busy 2-core machine can miss the
  // ready timeout.
  const started: KitServer[] = [];
  try {
    started.push(await kit.startServer('handwritten', { kratosPublicUrl: kit.standIns.kratosUrl, servicesUrl: kit.standIns.servicesUrl }));
    for (const n of serviceCounts) started.push(await kit.startServer('gateway', { config: servicesConfig(base, kit.standIns.servicesUrl, n) }));
    const [handwritten, ...gateways] = started;
    const pipelineIndex = serviceCounts.indexOf(2);
    const gateway = gateways[pipelineIndex >= 0 ? pipelineIndex : 0]!;
    const timing = { durationSec: cs.durationSec, warmupSec: cs.warmupSec, rounds: cs.rounds };
    const g: TargetStats[] = [];
    const h: TargetStats[] = [];
    const ratio: number[] = [];
    const coreBusyPct: number[] = [];
    for (const connections of cs.connections) {
      const cmp = await kit.compare(
        [
          { name: 'gateway', url: gateway.url, pid: gateway.pid },
          { name: 'hand-written Hono + undici', url: handwritten!.url, pid: handwritten!.pid },
        ],
        { ...timing, connections },
        `curve connections c=${connections}`,
      );
      g.push(cmp.stats[0]!);
      h.push(cmp.stats[1]!);
      ratio.push(cmp.ratio(0, 1));
      coreBusyPct.push(cmp.coreBusyPct);
    }
    const cmp = await kit.compare(
      gateways.map((s, i) => ({ name: `gateway, ${serviceCounts[i]} services`, url: s.url, pid: s.pid })),
      { ...timing, connections: cs.servicesConnections },
      'curve services',
    );
    return {
      connections: {
        connections: cs.connections,
        gateway: g,
        handwritten: h,
        ratio,
        coreBusyPct,
        gatewayBend: throughputKnee(cs.connections, g, 'connections', coreBusyPct),
        handwrittenBend: throughputKnee(cs.connections, h, 'connections', coreBusyPct),
      },
      services: {
        connections: cs.servicesConnections,
        services: serviceCounts,
        gateway: cmp.stats,
        relative: serviceCounts.map((_, i) => cmp.ratio(i, 0)),
        coreBusyPct: cmp.coreBusyPct,
        bend: servicesBend(serviceCounts, cmp.stats, cmp.coreBusyPct),
      },
    };
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}

/**
 * Peak RSS against concurrency, measured like part 3: `npm run build`, then a fresh
 * `node dist/node.mjs` per point (VmHWM is a high-water mark, so each point needs its own process).
 */
async function memoryCurve(kit: BenchKit, cs: CurvesSettings): Promise<MemoryCurve> {
  const build = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'build.ts')], { cwd: repoRoot, stdio: 'ignore' });
  if (build.status !== 0) throw new Error(`curves: npm run build failed (${build.status ?? build.signal})`);
  const dir = mkdtempSync(join(tmpdir(), 'kbff-bench-curves-'));
  const points: MemoryPoint[] = [];
  try {
    for (const concurrency of cs.memoryConcurrency) {
      const port = await freePort();
      const file = join(dir, `gateway-${port}.json`);
      writeFileSync(file, JSON.stringify({ ...kit.gatewayConfig(port), log: { level: 'error' } }));
      const proc = spawnNode(join(repoRoot, 'dist', 'node.mjs'), ['--config', file], { cores: kit.cores.server, tsx: false, nodeArgs: npmStartNodeFlags() });
      try {
        const url = `http://127.0.0.1:${port}`;
        await waitForHttpOk(`${url}/health/ready`, 30_000);
        await new Promise((r) => setTimeout(r, 300));
        const idleKb = procStatusKb(proc.pid, 'VmRSS');
        let cpu0 = cpuTimeMs(proc.pid);
        let result = await kit.load.run({ url, scenario: 'registration', connections: concurrency, durationSec: cs.memoryDurationSec, tag: `${kit.runTag}-mem-${concurrency}` });
        if (result.perSec === 0 && result.non2xx + result.errors + result.timeouts === 0) {
          // A fresh process on a busy machine can finish nothing within a short (smoke) window:
          // measure this point again over a longer one rather than report an empty cell.
          kit.log(`bench: curve memory ${concurrency} concurrent: nothing completed in ${cs.memoryDurationSec} s; measuring again over ${cs.memoryDurationSec * 4} s`);
          cpu0 = cpuTimeMs(proc.pid);
          result = await kit.load.run({ url, scenario: 'registration', connections: concurrency, durationSec: cs.memoryDurationSec * 4, tag: `${kit.runTag}-mem-${concurrency}-again` });
        }
        const busyPct = ((cpuTimeMs(proc.pid) - cpu0) / (result.durationSec * 1000)) * 100;
        const peakKb = procStatusKb(proc.pid, 'VmHWM');
        points.push({ concurrency, idleRssMiB: idleKb / 1024, peakRssMiB: peakKb / 1024, perSec: result.perSec, busyPct, failures: result.non2xx + result.errors + result.timeouts });
        kit.log(`bench: curve memory ${concurrency} concurrent: ${result.perSec.toFixed(0)}/s, peak RSS ${(peakKb / 1024).toFixed(1)} MiB, server core ${busyPct.toFixed(0)}%`);
      } finally {
        await proc.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { durationSec: cs.memoryDurationSec, points, bend: memoryBend(points) };
}

/** Part 5: the three curves, in one run. */
export async function curvesPart(kit: BenchKit): Promise<CurvesResult> {
  const cs = kit.smoke ? SMOKE : FULL;
  const { connections, services } = await connectionsAndServices(kit, cs);
  const memory = await memoryCurve(kit, cs);
  return { settings: cs, connections, services, memory };
}

export function renderCurves(c: CurvesResult): string {
  const lines: string[] = [];
  const cc = c.connections;
  lines.push(`### 5. Curves`, '', `#### 5a. Sign-ups against connections (zero-cost stand-ins, part 2's config)`, '');
  lines.push(
    '| conns | target | sign-ups/s | p50 ms | p99 ms | conns / throughput ms | server CPU µs/op | server core busy | load core busy | server core, all processes | gateway / hand-written | failed |',
  );
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  cc.connections.forEach((n, i) => {
    for (const [s, all, r] of [
      [cc.gateway[i]!, `${f(cc.coreBusyPct[i]!, 0)}%`, f(cc.ratio[i]!, 2)],
      [cc.handwritten[i]!, '', ''],
    ] as const) {
      lines.push(
        `| ${n} | ${s.name} | ${f(s.perSec, 0)} | ${f(s.p50, 2)} | ${f(s.p99, 2)} | ${f((n / s.perSec) * 1000, 2)} | ${f(s.serverCpuMs * 1000, 0)} | ${f(s.serverBusyPct, 0)}% | ${f(s.loadBusyPct, 0)}% | ${all} | ${r} | ${s.failures} |`,
      );
    }
  });
  lines.push('', `- gateway: ${cc.gatewayBend.explanation}.`, `- hand-written: ${cc.handwrittenBend.explanation}.`);

  const sc = c.services;
  lines.push('', `#### 5b. Sign-ups against the number of services (gateway, half \`before\` and half \`after\`, ${sc.connections} connections)`, '');
  lines.push('| services | sign-ups/s | relative to 0 | p50 ms | p99 ms | server CPU µs/op | server core busy | load core busy | failed |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  sc.services.forEach((n, i) => {
    const s = sc.gateway[i]!;
    lines.push(`| ${n} | ${f(s.perSec, 0)} | ${f(sc.relative[i]!, 2)} | ${f(s.p50, 2)} | ${f(s.p99, 2)} | ${f(s.serverCpuMs * 1000, 0)} | ${f(s.serverBusyPct, 0)}% | ${f(s.loadBusyPct, 0)}% | ${s.failures} |`);
  });
  lines.push('', `- ${sc.bend.explanation}. Server core busy with all processes during these runs: ${f(sc.coreBusyPct, 0)}%.`);

  const mc = c.memory;
  lines.push('', `#### 5c. Peak RSS against concurrent sign-ups (\`node dist/node.mjs\`, a fresh process per point, ${mc.durationSec} s each)`, '');
  lines.push('| concurrent sign-ups | peak RSS (VmHWM) MiB | idle RSS MiB | sign-ups/s | server core busy | failed |');
  lines.push('|---:|---:|---:|---:|---:|---:|');
  for (const p of mc.points) lines.push(`| ${p.concurrency} | ${f(p.peakRssMiB)} | ${f(p.idleRssMiB)} | ${f(p.perSec, 0)} | ${f(p.busyPct, 0)}% | ${p.failures} |`);
  lines.push('', `- ${mc.bend.explanation}.`);
  return lines.join('\n');
}

/** The "How it was measured" paragraph for part 5. */
export function curvesMethod(c: CurvesResult): string {
  const s = c.settings;
  return `- **5. Curves** (bench/curves.ts). Same stand-ins, load generator and pinning as parts 2 and 3.
  *5a*: the gateway with part 2's config and the hand-written handler at ${s.connections.join(', ')} connections,
  ${s.rounds} alternating rounds of ${s.durationSec} s per point after a ${s.warmupSec} s warm-up each; "conns / throughput"
  is the mean latency Little's law predicts in a steady state, to check p50 against; "server core,
  all processes" is that core's busy share in /proc/stat over the point's runs (both targets and
  warm-ups): far above the server's own share, other processes took the core. *5b*: gateways with ${s.services.join(', ')}
  services (half \`before\`, half \`after\` with \`on_failure: continue\`, all answered at once by the
  stand-in), ${s.servicesConnections} connections, alternating rounds as in 5a. *5c*: part 3's measure at
  ${s.memoryConcurrency.join(', ')} concurrent sign-ups, a fresh \`node dist/node.mjs\` per point, ${s.memoryDurationSec} s each.
  Where a curve bends: throughput curves bend at the first point after which throughput grows
  by ${KNEE_GROWTH * 100}% or less (services: loses more than ${KNEE_GROWTH * 100}%); a core ≥ ${SATURATED_PCT}% busy there is called
  saturated, and the sentence says which core, or that neither is. The memory curve bends where
  the RSS per added concurrent sign-up changes by more than 2×. The sentences are generated
  from the numbers in the tables.`;
}
