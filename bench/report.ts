/**
 * Turns the measurements into the printed tables and BENCHMARKS.md.
 */
import { curvesMethod, renderCurves, type CurvesResult } from './curves.ts';
import type { BenchPart } from './kit.ts';
import { renderWorkerCpu, workerCpuMethod, type WorkerCpuResult } from './worker-cpu.ts';

export interface Machine {
  date: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kratos: string;
  loadAverage: string;
  pinning: string;
}

/** One target's medians over the rounds. */
export interface TargetStats {
  name: string;
  perSec: number;
  p50: number;
  p99: number;
  /** CPU time of the server process per completed operation, ms. */
  serverCpuMs: number;
  /** Share of one core the server process used while loaded, %. */
  serverBusyPct: number;
  /** Share of one core the load side (generator, stand-ins) used, %: near 100 means it, not the server, was the limit. */
  loadBusyPct: number;
  /** Overhead part: CPU time of Kratos per operation, ms. */
  kratosCpuMs?: number;
  /** Answers that were not 2xx, and connection errors, over all rounds (should be 0). */
  failures: number;
  firstFailure?: string;
}

export interface OverheadResult {
  flow: 'registration' | 'login';
  connections: number;
  direct: TargetStats;
  gateway: TargetStats;
  /** Medians over rounds of the per-round values (each round runs the pair back to back). */
  ratio: number;
  addedP50: number;
  addedP99: number;
}

export interface PipelineResult {
  connections: number;
  gateway: TargetStats;
  handwritten: TargetStats;
  naive: TargetStats;
  vsHandwritten: number;
  vsNaive: number;
}

/** Part 4: three gateway processes on one Redis against one process with the memory backend. */
export interface InstancesResult {
  connections: number;
  instances: number;
  redis: TargetStats;
  memory: TargetStats;
  /** One process on Redis: separates Redis's cost from that of several processes on one core. */
  redisSingle: TargetStats;
  /** 1 on Redis / 1 in memory (median of per-round ratios). */
  singleRatio: number;
  /** Medians over rounds of the per-round values: redis / memory throughput, added latency. */
  ratio: number;
  addedP50: number;
  addedP99: number;
  /** CPU time of redis-server per sign-up, ms (median over rounds). */
  redisCpuMs: number;
}

export interface Footprint {
  connections: number;
  peakRssMiB: number;
  idleRssMiB: number;
  /** Sign-ups per second during the RSS run (zero-cost upstreams). */
  perSec: number;
  /** The node flags of `npm start` (package.json) the process ran with. */
  nodeFlags: string[];
  /** When there are flags: the same bundle without them, in the same run. */
  flagsCost?: {
    /** A fresh process without the flags, same load as the peak RSS run. */
    withoutPeakRssMiB: number;
    withoutPerSec: number;
    /** Both processes at the RSS run's connections, alternating rounds. */
    with: TargetStats;
    without: TargetStats;
    /** Sign-ups/s with / without (median of the per-round ratios). */
    perSecRatio: number;
    /** Server CPU per sign-up with / without (median of the per-round ratios). */
    cpuRatio: number;
  };
  startupMs: number;
  startupSamples: number[];
  /** An empty script under `node --import tsx`: the loader's share of start-up and RSS. */
  emptyTsx: { startupMs: number; rssMiB: number };
  bundle: { rawKiB: number; gzipKiB: number } | { error: string };
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

export interface Settings {
  smoke: boolean;
  rounds: number;
  overheadDurationSec: number;
  overheadConnections: number[];
  pipelineDurationSec: number;
  pipelineConnections: number;
  overheadWarmupSec: number;
  pipelineWarmupSec: number;
  rssConnections: number;
  rssDurationSec: number;
  startupSamples: number;
  instancesDurationSec: number;
  instancesConnections: number;
  instancesWarmupSec: number;
}

export interface BenchReport {
  machine: Machine;
  settings: Settings;
  /** The parts that ran (`--parts`); a part that did not run has no field. */
  parts: BenchPart[];
  overhead?: OverheadResult[];
  pipeline?: PipelineResult;
  footprint?: Footprint;
  instances?: InstancesResult;
  curves?: CurvesResult;
  worker?: WorkerCpuResult;
  targets: TargetCheck[];
  notes: string[];
  totalSec: number;
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const signed = (n: number, digits = 2) => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(digits)}` : '–');

function failures(s: TargetStats): string {
  return s.failures === 0 ? '0' : `**${s.failures}** (${(s.firstFailure ?? '').slice(0, 80).replace(/\|/g, '/')})`;
}

/** Which targets of issue 6 were met. */
export function checkTargets(overhead: OverheadResult[], pipeline: PipelineResult, footprint: Footprint, instances: InstancesResult): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const maxConn = Math.max(...overhead.map((o) => o.connections));
  const minConn = Math.min(...overhead.map((o) => o.connections));
  for (const flow of ['registration', 'login'] as const) {
    const loaded = overhead.find((o) => o.flow === flow && o.connections === maxConn);
    const light = overhead.find((o) => o.flow === flow && o.connections === minConn);
    if (loaded) {
      checks.push({ target: `(1) ${flow}: ≥ 0.95 of direct Kratos throughput (${maxConn} connections)`, measured: f(loaded.ratio, 3), met: loaded.ratio >= 0.95 });
    }
    if (light) {
      checks.push({
        target: `(1) ${flow}: added p50 ≤ 2 ms (${minConn} connection${minConn === 1 ? '' : 's'})`,
        measured: `${signed(light.addedP50)} ms`,
        met: light.addedP50 <= 2,
      });
    }
  }
  checks.push({ target: '(2) ≥ 0.8 of the hand-written Hono + undici handler', measured: f(pipeline.vsHandwritten, 2), met: pipeline.vsHandwritten >= 0.8 });
  checks.push({ target: '(2) ≥ 4× the naive @ory/client BFF', measured: `${f(pipeline.vsNaive, 2)}×`, met: pipeline.vsNaive >= 4 });
  checks.push({
    target: `(3) peak RSS ≤ 150 MB at ${footprint.connections} concurrent sign-ups`,
    measured: `${f(footprint.peakRssMiB)} MiB`,
    met: footprint.peakRssMiB * 1.048576 <= 150,
  });
  if (footprint.flagsCost) {
    checks.push({
      target: `(3) its node flags (\`${footprint.nodeFlags.join(' ')}\`) cost ≤ 5% throughput at ${footprint.connections} connections`,
      measured: f(footprint.flagsCost.perSecRatio, 3),
      met: footprint.flagsCost.perSecRatio >= 0.95,
    });
  }
  checks.push({
    target: `(4) Redis costs ≤ 10% throughput at 32 connections (${instances.instances} processes on Redis / 1 in memory${instances.connections === 32 ? '' : `; this run: ${instances.connections}`})`,
    measured: f(instances.ratio, 3),
    met: instances.ratio >= 0.9,
  });
  return checks;
}

export function renderTables(r: BenchReport): string {
  const lines: string[] = [];
  if (r.overhead) {
    lines.push('### 1. Overhead vs direct Kratos (real Kratos, same load generator and connections)', '');
    lines.push('| flow | conns | target | ops/s | p50 ms | p99 ms | server CPU ms/op | Kratos CPU ms/op | failed |');
    lines.push('|---|---:|---|---:|---:|---:|---:|---:|---:|');
    for (const o of r.overhead) {
      for (const s of [o.direct, o.gateway]) {
        lines.push(`| ${o.flow} | ${o.connections} | ${s.name} | ${f(s.perSec)} | ${f(s.p50, 2)} | ${f(s.p99, 2)} | ${f(s.serverCpuMs, 2)} | ${f(s.kratosCpuMs ?? NaN, 2)} | ${failures(s)} |`);
      }
    }
    lines.push('', '| flow | conns | throughput gateway / direct | added p50 ms | added p99 ms |', '|---|---:|---:|---:|---:|');
    for (const o of r.overhead) lines.push(`| ${o.flow} | ${o.connections} | ${f(o.ratio, 3)} | ${signed(o.addedP50)} | ${signed(o.addedP99)} |`);
  }

  const p = r.pipeline;
  if (p) {
    lines.push('', `### 2. Pipeline speed (zero-cost Kratos and two services, ${p.connections} connections)`, '');
    lines.push('| target | sign-ups/s | p50 ms | p99 ms | server CPU µs/op | server core busy | load core busy | failed |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of [p.gateway, p.handwritten, p.naive]) {
      lines.push(
        `| ${s.name} | ${f(s.perSec, 0)} | ${f(s.p50, 2)} | ${f(s.p99, 2)} | ${f(s.serverCpuMs * 1000, 0)} | ${f(s.serverBusyPct, 0)}% | ${f(s.loadBusyPct, 0)}% | ${failures(s)} |`,
      );
    }
    lines.push('', `gateway / hand-written: **${f(p.vsHandwritten, 2)}**; gateway / naive SDK: **${f(p.vsNaive, 2)}×**`);
  }

  const fp = r.footprint;
  if (fp) {
    lines.push('', '### 3. Footprint', '', '| measure | value |', '|---|---:|');
    const cmd = `\`node ${[...fp.nodeFlags, 'dist/node.mjs'].join(' ')}\``;
    lines.push(`| peak RSS (VmHWM), ${fp.connections} concurrent sign-ups for ${r.settings.rssDurationSec} s (${f(fp.perSec, 0)}/s), ${cmd} as \`npm start\` | ${f(fp.peakRssMiB)} MiB |`);
    lines.push(`| RSS after start, idle | ${f(fp.idleRssMiB)} MiB |`);
    const fc = fp.flagsCost;
    if (fc) {
      const flags = `\`${fp.nodeFlags.join(' ')}\``;
      lines.push(`| the same without ${flags}: peak RSS (${f(fc.withoutPerSec, 0)}/s) | ${f(fc.withoutPeakRssMiB)} MiB |`);
      lines.push(
        `| cost of ${flags}: sign-ups/s with / without, ${fp.connections} connections, median of ${r.settings.rounds} alternating rounds of ${r.settings.pipelineDurationSec} s (${f(fc.with.perSec, 0)}/s vs ${f(fc.without.perSec, 0)}/s) | ${f(fc.perSecRatio, 3)} |`,
      );
      lines.push(`| …and server CPU per sign-up with / without (${f(fc.with.serverCpuMs * 1000, 0)} vs ${f(fc.without.serverCpuMs * 1000, 0)} µs) | ${f(fc.cpuRatio, 3)} |`);
    }
    lines.push(`| start-up to ready (spawn → \`/health/ready\` 200; median of ${fp.startupSamples.length}) | ${f(fp.startupMs, 0)} ms |`);
    lines.push(`| for reference: an empty script under \`node --import tsx\` (start-up / RSS) | ${f(fp.emptyTsx.startupMs, 0)} ms / ${f(fp.emptyTsx.rssMiB)} MiB |`);
    lines.push(
      'error' in fp.bundle
        ? `| Worker bundle | not built: ${fp.bundle.error.slice(0, 120).replace(/\|/g, '/')} |`
        : `| Worker bundle (\`wrangler deploy --dry-run\`), raw / gzip -9 | ${f(fp.bundle.rawKiB)} KiB / ${f(fp.bundle.gzipKiB)} KiB |`,
    );
  }

  const i = r.instances;
  if (i) {
    lines.push('', `### 4. Several instances (pipeline config, Idempotency-Key on every sign-up, ${i.connections} connections)`, '');
    lines.push('| target | sign-ups/s | p50 ms | p99 ms | server CPU µs/op (all processes) | server core busy | load core busy | failed |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of [i.memory, i.redisSingle, i.redis]) {
      lines.push(
        `| ${s.name} | ${f(s.perSec, 0)} | ${f(s.p50, 2)} | ${f(s.p99, 2)} | ${f(s.serverCpuMs * 1000, 0)} | ${f(s.serverBusyPct, 0)}% | ${f(s.loadBusyPct, 0)}% | ${failures(s)} |`,
      );
    }
    lines.push(
      '',
      `throughput ${i.instances} on Redis / 1 in memory: **${f(i.ratio, 3)}**; added p50 ${signed(i.addedP50)} ms, added p99 ${signed(i.addedP99)} ms; redis-server CPU ${f(i.redisCpuMs * 1000, 0)} µs per sign-up (${i.instances} processes). 1 on Redis / 1 in memory: ${f(i.singleRatio, 3)}`,
    );
  }

  if (r.curves) lines.push('', renderCurves(r.curves));
  if (r.worker) lines.push('', renderWorkerCpu(r.worker));

  if (r.targets.length > 0) lines.push('', '### Targets', '', '| target | measured | met |', '|---|---:|:---:|');
  for (const t of r.targets) lines.push(`| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`);
  return lines.join('\n').replace(/^\n+/, '');
}

export function renderMarkdown(r: BenchReport): string {
  const m = r.machine;
  const s = r.settings;
  return `# Benchmarks

Written by \`npm run bench\` (bench/run.ts) on ${m.date}; ${r.totalSec.toFixed(0)} s in all. Numbers on
shared machines drift from run to run, so the claims are the **ratios**, each measured within
one run with the pair of targets run back to back, alternating which goes first, and reported
as the median of ${s.rounds} rounds.

## Machine

| | |
|---|---|
| CPUs (nproc) | ${m.nproc} |
| CPU model | ${m.cpuModel} |
| memory | ${m.memoryGiB.toFixed(1)} GiB |
| Node.js | ${m.node} |
| Kratos | ${m.kratos} (built by scripts/kratos.ts), SQLite, \`--dev\` (bcrypt cost 4) |
| pinning | ${m.pinning} |
| load average at start | ${m.loadAverage} |

## Results

${renderTables(r)}

## How it was measured

\`\`\`sh
npm run bench                          # this file; about 10 minutes
BENCH_SMOKE=1 npm run bench            # about a minute, prints only (test/integration/bench-smoke.test.ts runs it)
BENCH_CPU_PROF=/tmp/prof npm run bench # also writes .cpuprofile files of the gateway processes
npm run bench -- --parts curves,worker # only those parts; prints only unless --out FILE
\`\`\`

- **Processes.** Every server is its own process, \`node .cache/bench-server/server.mjs <kind>\`:
  bench/server.ts bundled by esbuild with the options of \`npm run build\`, so every target
  runs as plain JavaScript as in production, none under the tsx loader; the gateway with
  \`npm start\`'s V8 flags, the baselines as plain \`node\` (the gateway is the real
  \`startNodeGateway\` with undici pools, as \`npm start\` runs it),
  pinned once ready with \`taskset -a -p -c <server CPU>\` (Kratos too, with \`GOMAXPROCS=1\`).
  The load generator (autocannon 9, no pipelining) is another process,
  \`taskset -c <load CPU> node … bench/load-worker.ts\`, that gives every sign-up a new email
  from a counter. Latency is taken per response with sub-millisecond resolution. Each target
  is warmed up first (${s.overheadWarmupSec} s in part 1, ${s.pipelineWarmupSec} s in part 2, at the part's highest connection count).
- **1. Overhead.** One real Kratos for the whole part, pinned to the server CPU together with
  the process under test (so whatever CPU the gateway uses is taken from Kratos, as on a shared
  host). *direct client*: \`bench/baselines.ts\` \`startDirectClient\`, a bare node:http handler that
  creates and submits the native flow with an undici Pool and returns Kratos's answer: the
  least any client of Kratos's native API does. *gateway*: \`POST /v1/registration\` and
  \`POST /v1/login\` (login after-jobs \`[session]\`). ${s.overheadConnections.join(' and ')} connection(s),
  ${s.overheadDurationSec} s per round. With one connection nothing queues, so the added p50/p99 is the
  gateway's own cost per request; with more, Kratos is saturated (its SQLite takes one writer at a
  time) and the throughput ratio shows what the gateway's CPU takes from Kratos (and latency
  follows Little's law: connections / throughput). Kratos-bound ratios move by about ±5% from
  run to run on this 2-core machine. The login account is created before the part.
  Kratos's SQLite DSN gets \`lock=false\`: with pop's default global SQLite lock, Kratos v1.3.1
  deadlocks for the busy timeout (10 s) as soon as two sign-ups overlap (a transaction holding
  the write lock waits for pop's statement lock, held by a statement waiting for the write lock).
- **2. Pipeline.** Zero-cost stand-ins (\`bench/stand-ins.ts\`: node:http answering at once with the
  recorded Kratos v1.3.1 answers from test/fixtures/kratos, and \`/services/before\`,
  \`/services/after\`) run on the load CPU. The gateway has two services: \`before\` (POST with
  \`{{traits.email}}\`) and \`after\` (\`on_failure: continue\`, POST with \`{{identity.id}}\`), \`retries: 0\`.
  *hand-written*: the same four upstream calls in a Hono handler with undici Pools.
  *naive SDK*: the same calls with \`@ory/client\` \`FrontendApi\` (\`createNativeRegistrationFlow\`,
  \`updateRegistrationFlow\`, axios underneath) and axios for the services, as the SDK docs show.
  ${s.pipelineConnections} connections, ${s.pipelineDurationSec} s per round. "server CPU µs/op" is the server process's CPU
  time (/proc/<pid>/stat) per sign-up: the cost that matters when the server core is the limit;
  "load core busy" is the generator's and the stand-ins' share of the other CPU: near 100% would
  mean the load side, not the server, set the pace.
- **3. Footprint.** The gateway as production runs it: \`npm run build\`, then a fresh
  \`node <flags> dist/node.mjs --config <pipeline config>\` process (no tsx; the node flags of
  \`npm start\` in package.json), ${s.rssConnections} connections for ${s.rssDurationSec} s;
  peak RSS is the kernel's high-water mark (\`VmHWM\` in /proc/<pid>/status). The flags' price is
  measured in the same run: a fresh process without them under the same load (its peak RSS),
  then both processes in ${s.rounds} alternating rounds of ${s.pipelineDurationSec} s at ${s.rssConnections} connections. Start-up: spawn of
  that process until \`GET /health/ready\` answers 200 (polled every 5 ms). Parts 1, 2, 4 and 5 run
  the gateway from the bench's own bundle of bench/server.ts (same code, same node flags). Worker bundle: \`wrangler deploy --dry-run --outdir <tmp>\`, \`worker.js\` raw and gzip -9.
- **4. Several instances.** The pipeline part's config and stand-ins, with \`idempotency.secret\`
  set and every sign-up sent with a fresh \`Idempotency-Key\` (a unique key per request: nothing
  is replayed). *${r.instances?.instances ?? 3} on Redis*: ${r.instances?.instances ?? 3} gateway processes with \`state.backend: redis\` on one
  redis-server (started by the bench on a free loopback port, \`--save '' --appendonly no\`,
  installed by scripts/install-redis.sh when missing), the connections spread round robin
  over them (autocannon gives connection i the process i mod ${r.instances?.instances ?? 3}). *1 in memory*: one gateway process
  with the default memory backend. All gateway processes are pinned to the same server CPU, so
  both sides have the same total CPU: the ratio is what the Redis round trips of a sign-up
  (claim the key, complete it with the encrypted response) cost in throughput, not a scaling
  figure (more processes on one core add no capacity). Both sides encrypt the stored response
  and HMAC the key. redis-server runs on the load CPU with the generator and the stand-ins, as
  an upstream on another host would; "server CPU" sums the gateway processes. *1 on Redis*
  (one process, same Redis) separates what Redis costs from what running several processes on
  one core costs (context switches, a heap and JIT per process).
  ${r.settings.instancesConnections} connections, ${r.settings.instancesDurationSec} s per round, warm-up ${r.settings.instancesWarmupSec} s per target.
${r.curves ? `${curvesMethod(r.curves)}\n` : ''}${r.worker ? `${workerCpuMethod(r.worker)}\n` : ''}${r.notes.length > 0 ? `\n## Notes\n\n${r.notes.map((n) => `- ${n}`).join('\n')}\n` : ''}`;
}
