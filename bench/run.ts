/**
 * `npm run bench`: what the gateway costs, as ratios measured within one run (issue 6).
 *
 *   1. overhead vs direct Kratos (real Kratos): gateway vs a minimal undici client, sign-up and login
 *   2. pipeline speed (zero-cost upstreams): gateway vs a hand-written Hono handler and a naive SDK BFF
 *   3. footprint: peak RSS at 200 concurrent sign-ups, start-up time, Worker bundle size
 *   4. several instances: three gateway processes on one Redis vs one with the memory backend
 *   5. curves (bench/curves.ts): throughput, latency and peak RSS against connections and services
 *   6. the Worker (bench/worker-cpu.ts): workerd CPU per sign-up against the Node gateway's
 *
 * `--limiter` runs only the limiter part instead: the pipeline sign-up through two gateways, abuse
 * protection on (limits too high to trigger, so every request pays for the check) and off, and
 * prints the throughput ratio (issue 12).
 *
 * Prints the tables and writes BENCHMARKS.md. `BENCH_SMOKE=1` (or `--smoke`) runs everything
 * for about a second each and writes nothing unless `--out FILE` is given. `--no-pin` turns off
 * taskset; `BENCH_CPU_PROF=<dir>` starts the gateway processes with `--cpu-prof` into <dir>.
 * `--parts curves,worker` (or `BENCH_PARTS=…`) runs only those parts and, without `--out`,
 * writes nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { freePort, pinnedKratosVersion, startKratos } from '../scripts/kratos.ts';
import { ensureRedisServer, startRedis } from '../scripts/redis.ts';
import {
  benchDir,
  childPids,
  cpuTimeMs,
  median,
  npmStartNodeFlags,
  pinProcess,
  planCores,
  procStatusKb,
  repoRoot,
  spawnNode,
  buildBenchServer,
  stopAllChildren,
  waitForHttpOk,
  type CorePlan,
  type SpawnedProcess,
} from './harness.ts';
import { BENCH_PASSWORD, startLoadGenerator, type LoadGenerator, type LoadJob, type LoadResult } from './load.ts';
import {
  checkTargets,
  renderMarkdown,
  renderTables,
  type BenchReport,
  type Footprint,
  type InstancesResult,
  type Machine,
  type OverheadResult,
  type PipelineResult,
  type Settings,
  type TargetStats,
} from './report.ts';
import type { ServerKind, ServerOptions } from './server.ts';
import { curvesPart } from './curves.ts';
import { BENCH_PARTS, parseParts, withCoreBusy, type BenchKit, type BenchPart } from './kit.ts';
import { workerCpuPart } from './worker-cpu.ts';

export type { BenchReport } from './report.ts';

export interface BenchOptions {
  /** A few seconds in all: tiny durations, one round. */
  smoke?: boolean;
  /** Use this Kratos instead of starting one (the smoke test passes the suite's). */
  kratos?: { publicUrl: string; adminUrl: string };
  /** Where to write the Markdown report; undefined: nowhere. */
  outFile?: string;
  /** Pin with taskset (default true). */
  pin?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Start the gateway processes with --cpu-prof into this folder. */
  cpuProfDir?: string;
  /** Which parts to run (default: all, see BENCH_PARTS). */
  parts?: readonly BenchPart[];
}

const FULL: Settings = {
  smoke: false,
  // Nine: on a shared machine one round's paired ratio moved 0.68–1.06 in a single run of
  // part 2; the median of five was left to chance, the median of nine much less (issue 16).
  rounds: 9,
  overheadDurationSec: 4,
  overheadConnections: [1, 16],
  pipelineDurationSec: 4,
  pipelineConnections: 32,
  overheadWarmupSec: 3,
  pipelineWarmupSec: 6,
  rssConnections: 200,
  rssDurationSec: 12,
  startupSamples: 5,
  instancesDurationSec: 4,
  instancesConnections: 32,
  instancesWarmupSec: 6,
};

// One connection only: a Kratos we did not start may have pop's SQLite lock on, which
// deadlocks overlapping sign-ups (see startBenchKratos).
const SMOKE: Settings = {
  smoke: true,
  rounds: 1,
  overheadDurationSec: 0.5,
  overheadConnections: [1],
  pipelineDurationSec: 0.5,
  pipelineConnections: 8,
  overheadWarmupSec: 0.3,
  pipelineWarmupSec: 0.3,
  rssConnections: 200,
  rssDurationSec: 1,
  startupSamples: 1,
  instancesDurationSec: 0.5,
  instancesConnections: 8,
  instancesWarmupSec: 0.3,
};

interface Target {
  name: string;
  url: string;
  pid: number;
  /** Several processes behind one target (part 4): the load is spread over `urls`, CPU summed over `pids`. */
  urls?: string[];
  pids?: number[];
}

/** One target's numbers in one round. */
interface Sample {
  result: LoadResult;
  serverCpuMs: number;
  busyPct: number;
  kratosCpuMs: number;
  /** Share of one core used by the load side (generator and stand-ins), %. */
  loadBusyPct: number;
}

function machineInfo(pinning: string): Machine {
  let cpuModel = 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch {
    cpuModel = cpus()[0]?.model ?? cpuModel;
  }
  const nproc = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim()) || cpus().length;
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc,
    cpuModel,
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
    kratos: pinnedKratosVersion(),
    loadAverage: loadavg()
      .map((l) => l.toFixed(2))
      .join(', '),
    pinning,
  };
}

interface BenchKratos {
  publicUrl: string;
  adminUrl: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the real Kratos for part 1, pinned to the server CPU. Its SQLite DSN turns off pop's
 * global lock (`lock=false`): with it, a transaction holding SQLite's write lock waits for pop's
 * statement lock while the holder of that lock waits for the write lock, and two overlapping
 * sign-ups stall for the busy timeout (10 s) and then fail. SQLite's own locking is enough.
 */
async function startBenchKratos(options: BenchOptions, cores: CorePlan, log: (l: string) => void, notes: string[]): Promise<BenchKratos> {
  if (options.kratos) return { ...options.kratos, pid: undefined, stop: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'kratos-bff-bench-'));
  try {
    const dsn = `sqlite://${join(dir, 'kratos.sqlite')}?_fk=true&_journal=WAL&_busy_timeout=10000&lock=false`;
    log('bench: starting Kratos');
    const before = new Set(childPids(process.pid, 'kratos'));
    const kratos = await startKratos({ env: { DSN: dsn, ...(cores.server !== undefined ? { GOMAXPROCS: '1' } : {}) }, log });
    // startKratos does not expose its child: find the `kratos serve` this process just started.
    const pid = childPids(process.pid, 'kratos').find((p) => !before.has(p));
    if (pid === undefined) notes.push('The Kratos process was not found: it was not pinned and its CPU time is not shown.');
    else if (cores.server !== undefined && !pinProcess(pid, cores.server)) notes.push('Kratos could not be pinned to the server CPU.');
    return {
      publicUrl: kratos.publicUrl,
      adminUrl: kratos.adminUrl,
      pid,
      stop: async () => {
        await kratos.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Signs up the account the login part uses, straight through Kratos's native API. */
async function createLoginAccount(publicUrl: string, email: string): Promise<void> {
  const flow = (await (await fetch(`${publicUrl}/self-service/registration/api`, { headers: { accept: 'application/json' } })).json()) as { id: string };
  const res = await fetch(`${publicUrl}/self-service/registration?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ method: 'password', traits: { email }, password: BENCH_PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`could not create the login account: ${res.status} ${(await res.text()).slice(0, 300)}`);
}

interface StartedServer {
  proc: SpawnedProcess;
  ready: Record<string, unknown>;
}

/**
 * Starts a bench/server.ts child unpinned, so that several start in parallel on every CPU, and
 * pins all its threads once it is ready (threads started later inherit the pinning).
 */
async function startServer(kind: ServerKind, options: ServerOptions, cores: string | undefined, nodeArgs: string[] = []): Promise<StartedServer> {
  // The gateway runs with `npm start`'s V8 flags, as in production; the baselines as plain `node`.
  const flags = kind === 'gateway' ? [...npmStartNodeFlags(), ...nodeArgs] : nodeArgs;
  const proc = spawnNode(await buildBenchServer(), [kind], { cores: undefined, nodeArgs: flags, tsx: false, env: { BENCH_SERVER_OPTIONS: JSON.stringify(options) } });
  const ready = await proc.ready;
  if (cores !== undefined && !pinProcess(proc.pid, cores)) throw new Error(`could not pin ${kind} (pid ${proc.pid}) to CPU ${cores}`);
  return { proc, ready };
}

/** Pids whose CPU time is read around each run, besides the target's. */
interface Observed {
  kratosPid: number | undefined;
  /** The load generator and, in the pipeline part, the stand-ins. */
  loadPids: number[];
}

async function measure(load: LoadGenerator, target: Target, job: LoadJob, observed: Observed): Promise<Sample> {
  const loadCpu = () => observed.loadPids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0);
  const pids = target.pids ?? [target.pid];
  const targetCpu = () => pids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0);
  const cpu0 = targetCpu();
  const k0 = observed.kratosPid !== undefined ? cpuTimeMs(observed.kratosPid) : NaN;
  const l0 = loadCpu();
  const result = await load.run(job);
  const cpu = targetCpu() - cpu0;
  const k = observed.kratosPid !== undefined ? cpuTimeMs(observed.kratosPid) - k0 : NaN;
  const wallMs = result.durationSec * 1000;
  return {
    result,
    serverCpuMs: cpu / result.ok,
    busyPct: (cpu / wallMs) * 100,
    kratosCpuMs: k / result.ok,
    loadBusyPct: ((loadCpu() - l0) / wallMs) * 100,
  };
}

function summarize(name: string, samples: Sample[]): TargetStats {
  const failures = samples.reduce((n, s) => n + s.result.non2xx + s.result.errors + s.result.timeouts, 0);
  const firstFailure = samples.find((s) => s.result.firstFailure)?.result.firstFailure;
  const kratos = median(samples.map((s) => s.kratosCpuMs));
  return {
    name,
    perSec: median(samples.map((s) => s.result.perSec)),
    p50: median(samples.map((s) => s.result.p50)),
    p99: median(samples.map((s) => s.result.p99)),
    serverCpuMs: median(samples.map((s) => s.serverCpuMs)),
    serverBusyPct: median(samples.map((s) => s.busyPct)),
    loadBusyPct: median(samples.map((s) => s.loadBusyPct)),
    ...(Number.isFinite(kratos) ? { kratosCpuMs: kratos } : {}),
    failures,
    ...(firstFailure !== undefined ? { firstFailure } : {}),
  };
}

/**
 * Warms every target up, then runs `rounds` rounds; each round runs every target once, back to
 * back, starting with a different one each round. Returns the samples per target, in order.
 */
async function alternate(
  load: LoadGenerator,
  targets: Target[],
  job: (t: Target, label: string) => LoadJob,
  settings: Settings,
  timing: { durationSec: number; warmupSec: number; warmupConnections: number },
  observed: Observed,
  log: (l: string) => void,
  label: string,
): Promise<Sample[][]> {
  // Warm-up at the part's highest concurrency: JIT, pools and the heap settle faster.
  for (const t of targets) await load.run({ ...job(t, 'warm'), durationSec: timing.warmupSec, connections: timing.warmupConnections });
  const samples: Sample[][] = targets.map(() => []);
  for (let round = 0; round < settings.rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const index = (i + round) % targets.length;
      const t = targets[index]!;
      const s = await measure(load, t, { ...job(t, `r${round}`), durationSec: timing.durationSec }, observed);
      samples[index]!.push(s);
      log(`bench: ${label} round ${round + 1}/${settings.rounds} ${t.name}: ${s.result.perSec.toFixed(1)}/s p50 ${s.result.p50.toFixed(2)} ms p99 ${s.result.p99.toFixed(2)} ms${s.result.ok === 0 || s.result.non2xx + s.result.errors > 0 ? ` FAILURES ${s.result.non2xx + s.result.errors} ${s.result.firstFailure ?? ''}` : ''}`);
    }
  }
  return samples;
}

const perRound = (a: Sample[], b: Sample[], fn: (x: Sample, y: Sample) => number) => median(a.map((x, i) => fn(x, b[i]!)));

/** Part 1's processes: Kratos, the account for the login runs, the gateway and the direct client. */
interface OverheadSetup {
  kratos: BenchKratos;
  loginEmail: string;
  gateway: StartedServer;
  direct: StartedServer;
}

async function setUpOverhead(options: BenchOptions, cores: CorePlan, runTag: string, log: (l: string) => void, notes: string[]): Promise<OverheadSetup> {
  const kratos = await startBenchKratos(options, cores, log, notes);
  try {
    const loginEmail = `bench-login-${runTag}@example.com`;
    await createLoginAccount(kratos.publicUrl, loginEmail);
    // One profile per thread (tsx adds a loader thread): the biggest file is the main thread.
    const profile = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${join(options.cpuProfDir, 'overhead')}`] : [];
    const [gateway, direct] = await Promise.all([
      startServer(
        'gateway',
        {
          config: {
            kratos: { public_url: kratos.publicUrl, admin_url: kratos.adminUrl },
            server: { host: '127.0.0.1', port: 0 },
            // `[session]` (the default, written out): revoke_active_sessions would add a Kratos
            // call per login and sign the other connections' sessions out.
            selfservice: { login: { after: { password: [{ job: 'session' }] } } },
            // One load generator on one IP would be rate-limited; the limiter's cost is `--limiter`.
            abuse: { enabled: false },
          },
        },
        cores.server,
        profile,
      ),
      startServer('direct', { kratosPublicUrl: kratos.publicUrl }, cores.server),
    ]);
    return { kratos, loginEmail, gateway, direct };
  } catch (err) {
    await kratos.stop();
    throw err;
  }
}

async function overheadPart(settings: Settings, setup: OverheadSetup, load: LoadGenerator, runTag: string, log: (l: string) => void): Promise<OverheadResult[]> {
  const { kratos, loginEmail, gateway, direct } = setup;
  try {
    const targets: Target[] = [
      { name: 'direct client (undici)', url: direct.ready.url as string, pid: direct.proc.pid },
      { name: 'gateway', url: gateway.ready.url as string, pid: gateway.proc.pid },
    ];
    const results: OverheadResult[] = [];
    for (const flow of ['registration', 'login'] as const) {
      for (const connections of settings.overheadConnections) {
        const [d, g] = await alternate(
          load,
          targets,
          (t, label) => ({
            url: t.url,
            scenario: flow,
            connections,
            durationSec: settings.overheadDurationSec,
            tag: `${runTag}-${t.pid}-${flow}-${connections}-${label}`,
            login: { identifier: loginEmail, password: BENCH_PASSWORD },
          }),
          settings,
          { durationSec: settings.overheadDurationSec, warmupSec: settings.overheadWarmupSec, warmupConnections: Math.max(...settings.overheadConnections) },
          { kratosPid: kratos.pid, loadPids: [load.pid] },
          log,
          `overhead ${flow} c=${connections}`,
        );
        results.push({
          flow,
          connections,
          direct: summarize(targets[0]!.name, d!),
          gateway: summarize(targets[1]!.name, g!),
          ratio: perRound(g!, d!, (x, y) => x.result.perSec / y.result.perSec),
          addedP50: perRound(g!, d!, (x, y) => x.result.p50 - y.result.p50),
          addedP99: perRound(g!, d!, (x, y) => x.result.p99 - y.result.p99),
        });
      }
    }
    return results;
  } finally {
    await Promise.all([gateway.proc.stop(), direct.proc.stop()]);
    await kratos.stop();
  }
}

/** The gateway config of the pipeline part: Kratos and two services, all zero-cost stand-ins. */
function pipelineGatewayConfig(kratosUrl: string, servicesUrl: string, port = 0): Record<string, unknown> {
  return {
    kratos: { public_url: kratosUrl, admin_url: kratosUrl },
    server: { host: '127.0.0.1', port },
    // One load generator on one IP would be rate-limited; the limiter's cost is `--limiter`.
    abuse: { enabled: false },
    registration: {
      services: [
        { name: 'risk_check', stage: 'before', retries: 0, http: { method: 'POST', url: `${servicesUrl}/services/before`, body: { email: '{{traits.email}}' } } },
        {
          name: 'crm_contact',
          stage: 'after',
          on_failure: 'continue',
          retries: 0,
          http: { method: 'POST', url: `${servicesUrl}/services/after`, body: { identity_id: '{{identity.id}}', email: '{{traits.email}}' } },
        },
      ],
    },
  };
}

/** Part 2's (and 3's) processes: the zero-cost stand-ins and the three servers in front of them. */
interface PipelineSetup {
  standIns: { kratosUrl: string; servicesUrl: string; pid: number };
  servers: StartedServer[];
}

async function setUpPipeline(options: BenchOptions, cores: CorePlan, withServers = true): Promise<PipelineSetup> {
  const standIns = await startServer('stand-ins', {}, cores.load);
  const { kratosUrl, servicesUrl } = standIns.ready as { kratosUrl: string; servicesUrl: string };
  // Only the stand-ins when part 2 does not run (parts 3–6 start their own servers).
  if (!withServers) return { standIns: { kratosUrl, servicesUrl, pid: standIns.proc.pid }, servers: [] };
  const profile = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${join(options.cpuProfDir, 'pipeline')}`] : [];
  const servers = await Promise.all([
    startServer('gateway', { config: pipelineGatewayConfig(kratosUrl, servicesUrl) }, cores.server, profile),
    startServer('handwritten', { kratosPublicUrl: kratosUrl, servicesUrl }, cores.server),
    startServer('naive-sdk', { kratosPublicUrl: kratosUrl, servicesUrl }, cores.server),
  ]);
  return { standIns: { kratosUrl, servicesUrl, pid: standIns.proc.pid }, servers };
}

async function pipelinePart(settings: Settings, setup: PipelineSetup, load: LoadGenerator, runTag: string, log: (l: string) => void): Promise<PipelineResult> {
  const { standIns, servers: started } = setup;
  try {
    const names = ['gateway', 'hand-written Hono + undici', 'naive @ory/client BFF'];
    const targets: Target[] = started.map((s, i) => ({ name: names[i]!, url: s.ready.url as string, pid: s.proc.pid }));
    const [g, h, n] = await alternate(
      load,
      targets,
      (t, label) => ({ url: t.url, scenario: 'registration', connections: settings.pipelineConnections, durationSec: settings.pipelineDurationSec, tag: `${runTag}-p-${t.pid}-${label}` }),
      settings,
      { durationSec: settings.pipelineDurationSec, warmupSec: settings.pipelineWarmupSec, warmupConnections: settings.pipelineConnections },
      { kratosPid: undefined, loadPids: [load.pid, standIns.pid] },
      log,
      'pipeline',
    );
    return {
      connections: settings.pipelineConnections,
      gateway: summarize(targets[0]!.name, g!),
      handwritten: summarize(targets[1]!.name, h!),
      naive: summarize(targets[2]!.name, n!),
      vsHandwritten: perRound(g!, h!, (x, y) => x.result.perSec / y.result.perSec),
      vsNaive: perRound(g!, n!, (x, y) => x.result.perSec / y.result.perSec),
    };
  } finally {
    await Promise.all(started.map((s) => s.proc.stop()));
  }
}

/**
 * Reference for the start-up and RSS rows: an empty script under `node --import tsx` (how
 * `npm start` runs the gateway), so the tsx loader's share is visible.
 */
function emptyTsxProcess(cores: string | undefined, samples: number): { startupMs: number; rssMiB: number } {
  const times: number[] = [];
  const rss: number[] = [];
  const script = 'setTimeout(() => console.log(process.memoryUsage().rss), 300)';
  for (let i = 0; i < samples; i++) {
    const args = ['--import', 'tsx', '-e', script];
    const started = performance.now();
    const res = cores !== undefined ? spawnSync('taskset', ['-c', cores, process.execPath, ...args], { cwd: repoRoot, encoding: 'utf8' }) : spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8' });
    // Minus the script's own 300 ms wait.
    times.push(performance.now() - started - 300);
    rss.push(Number(res.stdout.trim()) / 2 ** 20);
  }
  return { startupMs: median(times), rssMiB: median(rss) };
}

function workerBundleSize(): Footprint['bundle'] {
  const out = mkdtempSync(join(tmpdir(), 'kratos-bff-worker-'));
  try {
    const res = spawnSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', out], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
      timeout: 120_000,
    });
    if (res.status !== 0) return { error: `wrangler exited ${res.status ?? res.signal}: ${(res.stderr || res.stdout || '').trim().split('\n').slice(-3).join(' ')}` };
    const code = readFileSync(join(out, 'worker.js'));
    return { rawKiB: code.length / 1024, gzipKiB: gzipSync(code, { level: 9 }).length / 1024 };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function footprintPart(
  settings: Settings,
  cores: CorePlan,
  load: LoadGenerator,
  standIns: { kratosUrl: string; servicesUrl: string; pid: number },
  runTag: string,
  log: (l: string) => void,
): Promise<Footprint> {
  // What production runs: `npm run build` → `node <flags> dist/node.mjs --config …` (no tsx in
  // the process), with the node flags of `npm start` read from package.json.
  spawnSync(process.execPath, ['--import', 'tsx', join(benchDir, '..', 'scripts', 'build.ts')], { cwd: join(benchDir, '..'), stdio: 'ignore' });
  const nodeFlags = npmStartNodeFlags();
  const configDir = mkdtempSync(join(tmpdir(), 'kbff-bench-footprint-'));
  const startBuilt = async (port: number, flags = nodeFlags) => {
    const file = join(configDir, `gateway-${port}.json`);
    writeFileSync(file, JSON.stringify({ ...pipelineGatewayConfig(standIns.kratosUrl, standIns.servicesUrl, port), log: { level: 'error' } }));
    const proc = spawnNode(join(benchDir, '..', 'dist', 'node.mjs'), ['--config', file], { cores: cores.server, tsx: false, nodeArgs: flags });
    await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, 30_000);
    return { proc, url: `http://127.0.0.1:${port}` };
  };
  const flagsText = nodeFlags.join(' ');
  // Peak RSS: a fresh process, so the high-water mark is this load's.
  const peakRun = async (flags: string[], label: string) => {
    const fresh = await startBuilt(await freePort(), flags);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const idleKb = procStatusKb(fresh.proc.pid, 'VmRSS');
      const result = await load.run({ url: fresh.url, scenario: 'registration', connections: settings.rssConnections, durationSec: settings.rssDurationSec, tag: `${runTag}-rss${label}` });
      const peakKb = procStatusKb(fresh.proc.pid, 'VmHWM');
      log(`bench: footprint${label ? ` ${label}` : ''}: ${settings.rssConnections} connections, ${result.perSec.toFixed(0)}/s, peak RSS ${(peakKb / 1024).toFixed(1)} MiB`);
      return { fresh, idleRssMiB: idleKb / 1024, peakRssMiB: peakKb / 1024, perSec: result.perSec };
    } catch (err) {
      await fresh.proc.stop();
      throw err;
    }
  };
  const withFlags = await peakRun(nodeFlags, '');
  let flagsCost: Footprint['flagsCost'];
  if (nodeFlags.length === 0) {
    await withFlags.fresh.proc.stop();
  } else {
    // What the flags buy and cost, in this run: the same bundle without them, a fresh process
    // for its peak; then both processes (warm now) in alternating rounds for throughput and CPU.
    let without: Awaited<ReturnType<typeof peakRun>> | undefined;
    try {
      without = await peakRun([], `without ${flagsText}`);
      const targets: Target[] = [
        { name: `node ${flagsText} dist/node.mjs`, url: withFlags.fresh.url, pid: withFlags.fresh.proc.pid },
        { name: 'node dist/node.mjs', url: without.fresh.url, pid: without.fresh.proc.pid },
      ];
      const samples = await alternate(
        load,
        targets,
        (t, round) => ({ url: t.url, scenario: 'registration', connections: settings.rssConnections, durationSec: settings.pipelineDurationSec, tag: `${runTag}-flags-${t.pid}-${round}` }),
        settings,
        { durationSec: settings.pipelineDurationSec, warmupSec: Math.min(1, settings.pipelineWarmupSec), warmupConnections: settings.rssConnections },
        { kratosPid: undefined, loadPids: [load.pid, standIns.pid] },
        log,
        'footprint flags',
      );
      flagsCost = {
        withoutPeakRssMiB: without.peakRssMiB,
        withoutPerSec: without.perSec,
        with: summarize(targets[0]!.name, samples[0]!),
        without: summarize(targets[1]!.name, samples[1]!),
        perSecRatio: perRound(samples[0]!, samples[1]!, (x, y) => x.result.perSec / y.result.perSec),
        cpuRatio: perRound(samples[0]!, samples[1]!, (x, y) => x.serverCpuMs / y.serverCpuMs),
      };
      log(`bench: footprint: ${flagsText}: throughput ×${flagsCost.perSecRatio.toFixed(3)}, CPU per sign-up ×${flagsCost.cpuRatio.toFixed(3)} (median of ${settings.rounds} alternating rounds)`);
    } finally {
      await withFlags.fresh.proc.stop();
      await without?.fresh.proc.stop();
    }
  }
  const { peakRssMiB, idleRssMiB, perSec } = withFlags;

  // Start-up: spawn until /health/ready answers (it checks the Kratos stand-in too).
  const startupSamples: number[] = [];
  for (let i = 0; i < settings.startupSamples; i++) {
    const started = performance.now();
    const { proc } = await startBuilt(await freePort());
    startupSamples.push(performance.now() - started);
    await proc.stop();
  }
  rmSync(configDir, { recursive: true, force: true });
  const empty = emptyTsxProcess(cores.server, settings.startupSamples);
  log(`bench: start-up ${startupSamples.map((s) => s.toFixed(0)).join(', ')} ms (empty tsx process: ${empty.startupMs.toFixed(0)} ms, ${empty.rssMiB.toFixed(1)} MiB)`);
  const bundle = workerBundleSize();
  log(`bench: worker bundle ${'error' in bundle ? bundle.error : `${bundle.rawKiB.toFixed(1)} KiB raw, ${bundle.gzipKiB.toFixed(1)} KiB gzip`}`);
  return {
    connections: settings.rssConnections,
    peakRssMiB,
    idleRssMiB,
    perSec,
    nodeFlags,
    ...(flagsCost ? { flagsCost } : {}),
    startupMs: median(startupSamples),
    startupSamples,
    emptyTsx: empty,
    bundle,
  };
}

const INSTANCES = 3;

/**
 * Part 4: the pipeline config with Idempotency-Key on every sign-up, three gateway processes
 * on one Redis (the load spread round robin over them) against one process with the memory
 * backend, all pinned to the server CPU; redis-server on the load CPU, like the stand-ins.
 */
async function instancesPart(
  settings: Settings,
  cores: CorePlan,
  load: LoadGenerator,
  standIns: { kratosUrl: string; servicesUrl: string; pid: number },
  runTag: string,
  log: (l: string) => void,
  notes: string[],
): Promise<InstancesResult> {
  ensureRedisServer(log);
  const before = new Set(childPids(process.pid, 'redis-server'));
  const redis = await startRedis();
  try {
    const redisPid = childPids(process.pid, 'redis-server').find((p) => !before.has(p));
    if (redisPid === undefined) notes.push('Part 4: the redis-server process was not found: it was not pinned and its CPU time is not shown.');
    else if (cores.load !== undefined && !pinProcess(redisPid, cores.load)) notes.push('Part 4: redis-server could not be pinned to the load CPU.');
    const secret = `bench-idempotency-secret-${runTag}-0123456789abcdef`;
    const base = { ...pipelineGatewayConfig(standIns.kratosUrl, standIns.servicesUrl), idempotency: { secret } };
    const redisConfig = { ...base, state: { backend: 'redis', redis: { url: redis.url } } };
    const started = await Promise.all([
      startServer('gateway', { config: base }, cores.server),
      ...Array.from({ length: INSTANCES + 1 }, () => startServer('gateway', { config: redisConfig }, cores.server)),
    ]);
    try {
      const [memory, single, ...onRedis] = started as [StartedServer, StartedServer, ...StartedServer[]];
      const targets: Target[] = [
        { name: '1 gateway process, memory backend', url: memory.ready.url as string, pid: memory.proc.pid },
        {
          name: `${INSTANCES} gateway processes, one Redis`,
          url: onRedis[0]!.ready.url as string,
          pid: onRedis[0]!.proc.pid,
          urls: onRedis.map((s) => s.ready.url as string),
          pids: onRedis.map((s) => s.proc.pid),
        },
        // Tells the cost of Redis from the cost of several processes on one core.
        { name: '1 gateway process, Redis', url: single.ready.url as string, pid: single.proc.pid },
      ];
      const [m, r, one] = await alternate(
        load,
        targets,
        (t, label) => ({
          url: t.url,
          ...(t.urls ? { urls: t.urls } : {}),
          idempotencyKeys: true,
          scenario: 'registration',
          connections: settings.instancesConnections,
          durationSec: settings.instancesDurationSec,
          tag: `${runTag}-i-${t.pid}-${label}`,
        }),
        settings,
        { durationSec: settings.instancesDurationSec, warmupSec: settings.instancesWarmupSec, warmupConnections: settings.instancesConnections },
        // redis-server is on the load CPU, so it counts as load side too; its own CPU per
        // sign-up goes in the slot part 1 uses for Kratos.
        { kratosPid: redisPid, loadPids: [load.pid, standIns.pid, ...(redisPid !== undefined ? [redisPid] : [])] },
        log,
        'instances',
      );
      const redisSide = summarize(targets[1]!.name, r!);
      return {
        connections: settings.instancesConnections,
        instances: INSTANCES,
        memory: summarize(targets[0]!.name, m!),
        redis: redisSide,
        redisSingle: summarize(targets[2]!.name, one!),
        singleRatio: perRound(one!, m!, (x, y) => x.result.perSec / y.result.perSec),
        ratio: perRound(r!, m!, (x, y) => x.result.perSec / y.result.perSec),
        addedP50: perRound(r!, m!, (x, y) => x.result.p50 - y.result.p50),
        addedP99: perRound(r!, m!, (x, y) => x.result.p99 - y.result.p99),
        redisCpuMs: redisSide.kratosCpuMs ?? NaN,
      };
    } finally {
      await Promise.all(started.map((s) => s.proc.stop()));
    }
  } finally {
    await redis.stop();
  }
}

/** The shared pieces parts 5 and 6 (bench/curves.ts, bench/worker-cpu.ts) measure with. */
function benchKit(settings: Settings, cores: CorePlan, load: LoadGenerator, standIns: PipelineSetup['standIns'], runTag: string, log: (l: string) => void, notes: string[]): BenchKit {
  return {
    smoke: settings.smoke,
    rounds: settings.rounds,
    cores,
    load,
    standIns,
    runTag,
    log,
    notes,
    gatewayConfig: (port = 0) => pipelineGatewayConfig(standIns.kratosUrl, standIns.servicesUrl, port),
    startServer: async (kind, options) => {
      const { proc, ready } = await startServer(kind, options, cores.server);
      return { url: ready.url as string, pid: proc.pid, stop: () => proc.stop() };
    },
    compare: async (targets, timing, label) => {
      const { value: samples, busyPct } = await withCoreBusy(cores.server, () => alternate(
        load,
        targets,
        (t, round) => ({ url: t.url, scenario: 'registration', connections: timing.connections, durationSec: timing.durationSec, tag: `${runTag}-${label.replace(/\W+/g, '')}-${t.pid}-${round}` }),
        { ...settings, rounds: timing.rounds ?? settings.rounds },
        { durationSec: timing.durationSec, warmupSec: timing.warmupSec, warmupConnections: timing.connections },
        { kratosPid: undefined, loadPids: [load.pid, standIns.pid] },
        log,
        label,
      ));
      return {
        coreBusyPct: busyPct,
        stats: samples.map((s, i) => summarize(targets[i]!.name, s)),
        ratio: (a, b, of = 'perSec') =>
          perRound(samples[a]!, samples[b]!, (x, y) => (of === 'perSec' ? x.result.perSec / y.result.perSec : x.serverCpuMs / y.serverCpuMs)),
      };
    },
  };
}

/** Runs the parts (all six by default) and returns the report (and writes it when `outFile` is set). */
export async function runBench(options: BenchOptions = {}): Promise<BenchReport & { tables: string; markdown: string }> {
  const sink = options.log ?? ((l: string) => console.error(l));
  const t0 = performance.now();
  const log = (l: string) => sink(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${l}`);
  const settings = options.smoke ? SMOKE : FULL;
  const parts = new Set<BenchPart>(options.parts ?? BENCH_PARTS);
  const cores = planCores(options.pin ?? true);
  const machine = machineInfo(cores.note);
  const runTag = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const startedAt = performance.now();
  const notes: string[] = [];
  if (settings.smoke) notes.push('Smoke run: durations of about a second and one round; the numbers only show that the harness works.');
  if (options.kratos) notes.push('Part 1 used an externally started Kratos (not pinned; its CPU time is not measured).');
  log(`bench: ${settings.smoke ? 'smoke' : 'full'} run; ${cores.note}`);
  if (parts.size < BENCH_PARTS.length) notes.push(`Only some parts ran (\`--parts ${[...parts].join(',')}\`); the targets are checked in a run of all parts.`);
  let kratos: BenchKratos | undefined;
  try {
    // Everything starts at once (Kratos migrates meanwhile); nothing is measured yet.
    const [loadStarted, overheadStarted, pipelineStarted] = await Promise.allSettled([
      startLoadGenerator(cores.load),
      parts.has('overhead') ? setUpOverhead(options, cores, runTag, log, notes) : undefined,
      setUpPipeline(options, cores, parts.has('pipeline')),
    ]);
    if (overheadStarted.status === 'fulfilled') kratos = overheadStarted.value?.kratos;
    for (const started of [loadStarted, overheadStarted, pipelineStarted]) if (started.status === 'rejected') throw started.reason;
    const load = (loadStarted as PromiseFulfilledResult<LoadGenerator>).value;
    const overheadSetup = (overheadStarted as PromiseFulfilledResult<OverheadSetup | undefined>).value;
    const pipelineSetup = (pipelineStarted as PromiseFulfilledResult<PipelineSetup>).value;
    log('bench: all processes ready');
    const overhead = overheadSetup ? await overheadPart(settings, overheadSetup, load, runTag, log) : undefined;
    kratos = undefined;
    const pipeline = parts.has('pipeline') ? await pipelinePart(settings, pipelineSetup, load, runTag, log) : undefined;
    const footprint = parts.has('footprint') ? await footprintPart(settings, cores, load, pipelineSetup.standIns, runTag, log) : undefined;
    const instances = parts.has('instances') ? await instancesPart(settings, cores, load, pipelineSetup.standIns, runTag, log, notes) : undefined;
    const kit = benchKit(settings, cores, load, pipelineSetup.standIns, runTag, log, notes);
    const curves = parts.has('curves') ? await curvesPart(kit) : undefined;
    const worker = parts.has('worker') ? await workerCpuPart(kit) : undefined;
    const targets = overhead && pipeline && footprint && instances ? checkTargets(overhead, pipeline, footprint, instances) : [];
    const report: BenchReport = {
      machine,
      settings,
      parts: [...parts],
      ...(overhead ? { overhead } : {}),
      ...(pipeline ? { pipeline } : {}),
      ...(footprint ? { footprint } : {}),
      ...(instances ? { instances } : {}),
      ...(curves ? { curves } : {}),
      ...(worker ? { worker } : {}),
      targets,
      notes,
      totalSec: (performance.now() - startedAt) / 1000,
    };
    const tables = renderTables(report);
    const markdown = renderMarkdown(report);
    if (options.outFile) writeFileSync(options.outFile, markdown);
    return { ...report, tables, markdown };
  } finally {
    await kratos?.stop();
    await stopAllChildren();
  }
}

/** What `--limiter` measured: the pipeline sign-up with abuse protection on and off, same run. */
export interface LimiterResult {
  connections: number;
  on: TargetStats;
  off: TargetStats;
  /** Requests per second with the limiter on / off (median of the per-round ratios). */
  ratio: number;
  /** Added CPU per request on the gateway (ms, median per round). */
  addedCpuMs: number;
}

/**
 * The limiter's cost: two gateways on the zero-cost stand-ins, one with `abuse` on (per-IP and
 * per-identifier limits on registration, memory store, limits so high they never answer 429)
 * and one with it off, alternated round by round like the pipeline part.
 */
export async function runLimiterBench(options: Pick<BenchOptions, 'smoke' | 'pin' | 'log'> = {}): Promise<{ result: LimiterResult; table: string }> {
  const sink = options.log ?? ((l: string) => console.error(l));
  const t0 = performance.now();
  const log = (l: string) => sink(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${l}`);
  const settings = options.smoke ? SMOKE : FULL;
  const cores = planCores(options.pin ?? true);
  const runTag = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  log(`bench --limiter: ${settings.smoke ? 'smoke' : 'full'} run; ${cores.note}`);
  try {
    const load = await startLoadGenerator(cores.load);
    const standIns = await startServer('stand-ins', {}, cores.load);
    const { kratosUrl, servicesUrl } = standIns.ready as { kratosUrl: string; servicesUrl: string };
    const huge = { limit: 1_000_000, window_s: 3600 };
    const on = { ...pipelineGatewayConfig(kratosUrl, servicesUrl), abuse: { rate_limits: { registration: { ip: huge, identifier: huge } } } };
    const off = pipelineGatewayConfig(kratosUrl, servicesUrl);
    const servers = await Promise.all([startServer('gateway', { config: on }, cores.server), startServer('gateway', { config: off }, cores.server)]);
    const targets: Target[] = [
      { name: 'gateway, limiter on', url: servers[0]!.ready.url as string, pid: servers[0]!.proc.pid },
      { name: 'gateway, limiter off', url: servers[1]!.ready.url as string, pid: servers[1]!.proc.pid },
    ];
    const [a, b] = await alternate(
      load,
      targets,
      (t, label) => ({ url: t.url, scenario: 'registration', connections: settings.pipelineConnections, durationSec: settings.pipelineDurationSec, tag: `${runTag}-l-${t.pid}-${label}` }),
      settings,
      { durationSec: settings.pipelineDurationSec, warmupSec: settings.pipelineWarmupSec, warmupConnections: settings.pipelineConnections },
      { kratosPid: undefined, loadPids: [load.pid, standIns.proc.pid] },
      log,
      'limiter',
    );
    const result: LimiterResult = {
      connections: settings.pipelineConnections,
      on: summarize(targets[0]!.name, a!),
      off: summarize(targets[1]!.name, b!),
      ratio: perRound(a!, b!, (x, y) => x.result.perSec / y.result.perSec),
      addedCpuMs: perRound(a!, b!, (x, y) => x.serverCpuMs - y.serverCpuMs),
    };
    const row = (t: TargetStats) => `| ${t.name} | ${t.perSec.toFixed(0)} | ${t.p50.toFixed(2)} | ${t.p99.toFixed(2)} | ${t.serverCpuMs.toFixed(3)} | ${t.failures} |`;
    const table = [
      `Limiter cost: pipeline sign-up, zero-cost stand-ins, ${result.connections} connections, ${settings.rounds} alternating rounds of ${settings.pipelineDurationSec} s`,
      '',
      '| target | req/s | p50 ms | p99 ms | gateway CPU ms/req | failures |',
      '|---|---:|---:|---:|---:|---:|',
      row(result.on),
      row(result.off),
      '',
      `limiter on / off throughput: ${result.ratio.toFixed(3)} (median of per-round ratios); added gateway CPU per request: ${(result.addedCpuMs * 1000).toFixed(0)} µs`,
    ].join('\n');
    return { result, table };
  } finally {
    await stopAllChildren();
  }
}

/**
 * `--only telemetry`: the pipeline part's sign-up (zero-cost stand-ins) against the gateway with
 * metrics off, the gateway with metrics on (traces off), and the hand-written baseline, in the
 * same alternating rounds; the cost of metrics is the per-round ratio on/off.
 */
export async function runTelemetryBench(options: BenchOptions = {}): Promise<{ markdown: string }> {
  const sink = options.log ?? ((l: string) => console.error(l));
  const t0 = performance.now();
  const log = (l: string) => sink(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${l}`);
  const settings = options.smoke ? SMOKE : FULL;
  const cores = planCores(options.pin ?? true);
  const machine = machineInfo(cores.note);
  const runTag = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  log(`bench: telemetry ${settings.smoke ? 'smoke' : 'full'} run; ${cores.note}`);
  try {
    const load = await startLoadGenerator(cores.load);
    const standIns = await startServer('stand-ins', {}, cores.load);
    const { kratosUrl, servicesUrl } = standIns.ready as { kratosUrl: string; servicesUrl: string };
    const base = pipelineGatewayConfig(kratosUrl, servicesUrl);
    const started = await Promise.all([
      startServer('gateway', { config: base }, cores.server),
      startServer('gateway', { config: { ...base, metrics: { enabled: true, port: 0 } } }, cores.server),
      startServer('handwritten', { kratosPublicUrl: kratosUrl, servicesUrl }, cores.server),
    ]);
    const names = ['gateway, metrics off', 'gateway, metrics on (traces off)', 'hand-written Hono + undici'];
    const targets: Target[] = started.map((s, i) => ({ name: names[i]!, url: s.ready.url as string, pid: s.proc.pid }));
    const [off, on, hand] = await alternate(
      load,
      targets,
      (t, label) => ({ url: t.url, scenario: 'registration', connections: settings.pipelineConnections, durationSec: settings.pipelineDurationSec, tag: `${runTag}-t-${t.pid}-${label}` }),
      settings,
      { durationSec: settings.pipelineDurationSec, warmupSec: settings.pipelineWarmupSec, warmupConnections: settings.pipelineConnections },
      { kratosPid: undefined, loadPids: [load.pid, standIns.proc.pid] },
      log,
      'telemetry',
    );
    // Proof the metrics were on: the sign-ups the "on" gateway counted.
    const scrape = await (await fetch(started[1]!.ready.metricsUrl as string)).text();
    const counted = /kratos_bff_http_request_duration_seconds_count\{method="POST",route="\/v1\/registration",status="200"\} (\d+)/.exec(scrape)?.[1];
    const stats = [summarize(names[0]!, off!), summarize(names[1]!, on!), summarize(names[2]!, hand!)];
    const ratio = perRound(on!, off!, (x, y) => x.result.perSec / y.result.perSec);
    const cpuRatio = perRound(on!, off!, (x, y) => x.serverCpuMs / y.serverCpuMs);
    const vsHand = perRound(off!, hand!, (x, y) => x.result.perSec / y.result.perSec);
    const vsHandOn = perRound(on!, hand!, (x, y) => x.result.perSec / y.result.perSec);
    const rows = stats.map((s) => `| ${s.name} | ${s.perSec.toFixed(0)} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.serverCpuMs.toFixed(3)} | ${s.failures} |`);
    const markdown = [
      `# Cost of metrics (pipeline sign-up, zero-cost stand-ins)`,
      '',
      `${machine.date}, ${machine.nproc} × ${machine.cpuModel}, Node ${machine.node}, load average ${machine.loadAverage}; ${machine.pinning}.`,
      `${settings.rounds} rounds of ${settings.pipelineDurationSec} s at ${settings.pipelineConnections} connections, targets alternating; medians.`,
      '',
      '| target | sign-ups/s | p50 ms | p99 ms | server CPU ms/op | failures |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
      `- metrics on / off, throughput: **${ratio.toFixed(3)}** (median of per-round ratios); server CPU per sign-up on / off: ${cpuRatio.toFixed(3)}`,
      `- gateway / hand-written: metrics off ${vsHand.toFixed(3)}, metrics on ${vsHandOn.toFixed(3)}`,
      `- sign-ups counted by the metrics-on gateway (warm-up included): ${counted ?? 'none (metrics not collected!)'}`,
      '',
    ].join('\n');
    if (options.outFile) writeFileSync(options.outFile, markdown);
    await Promise.all(started.map((s) => s.proc.stop()));
    return { markdown };
  } finally {
    await stopAllChildren();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { smoke: { type: 'boolean', default: false }, 'no-pin': { type: 'boolean', default: false }, out: { type: 'string' }, limiter: { type: 'boolean', default: false }, only: { type: 'string' }, parts: { type: 'string' } },
  });
  const smoke = values.smoke || process.env.BENCH_SMOKE === '1';
  if (values.limiter) {
    const { table } = await runLimiterBench({ smoke, pin: !values['no-pin'] });
    console.log(`\n${table}`);
    if (values.out) writeFileSync(values.out, `# kratos-bff limiter benchmark\n\n${table}\n`);
    return;
  }
  if (values.only === 'telemetry') {
    if (!values.out && !smoke) throw new Error('--only telemetry needs --out FILE (BENCHMARKS.md holds the full run)');
    const { markdown } = await runTelemetryBench({ smoke, pin: !values['no-pin'], ...(values.out ? { outFile: values.out } : {}) });
    console.log(`\n${markdown}`);
    return;
  }
  if (values.only !== undefined) throw new Error(`--only: unknown part "${values.only}" (known: telemetry)`);
  const parts = parseParts(values.parts ?? process.env.BENCH_PARTS);
  // A run of some parts only never overwrites BENCHMARKS.md unless asked to (--out).
  const outFile = values.out ?? (smoke || parts.length < BENCH_PARTS.length ? undefined : join(repoRoot, 'BENCHMARKS.md'));
  const onSignal = () => void stopAllChildren().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const report = await runBench({
    smoke,
    pin: !values['no-pin'],
    parts,
    ...(outFile ? { outFile } : {}),
    ...(process.env.BENCH_CPU_PROF ? { cpuProfDir: process.env.BENCH_CPU_PROF } : {}),
  });
  console.log(`\nkratos-bff benchmarks, ${report.machine.date}, ${report.machine.nproc} × ${report.machine.cpuModel}, Node ${report.machine.node}\n`);
  console.log(report.tables);
  console.log(`\n${report.totalSec.toFixed(0)} s in all${outFile ? `; written to ${outFile}` : ''}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err);
    void stopAllChildren().then(() => process.exit(1));
  });
}
