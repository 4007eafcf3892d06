/**
 * Process plumbing for the benchmarks: children pinned to a core with `taskset`, readiness,
 * /proc readings (CPU time, peak RSS), and cleanup that never leaves a child behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository: one up from bench/, or two up from the bundled .cache/bench-server/. */
export const repoRoot = existsSync(join(here, '..', 'package.json')) ? resolve(here, '..') : resolve(here, '..', '..');
export const benchDir = join(repoRoot, 'bench');

/** Where the load generator and the server under test run. */
export interface CorePlan {
  /** Cores for the server under test (and, in the overhead part, Kratos with it). */
  server: string | undefined;
  /** Cores for the load generator and the zero-cost stand-ins. */
  load: string | undefined;
  /** Why pinning is off, when it is. */
  note: string;
}

/** The CPUs this process may run on, from `taskset -pc` (falls back to 0..n-1). */
function allowedCpus(): number[] {
  const out = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
  const list = /list:\s*(.+)$/m.exec(out.stdout ?? '')?.[1]?.trim();
  if (out.status !== 0 || !list) return Array.from({ length: availableParallelism() }, (_, i) => i);
  const cpus: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let i = a; i <= (b ?? a); i++) cpus.push(i);
  }
  return cpus;
}

/**
 * The server gets the last allowed CPU, the load generator the others. Without `taskset` or
 * with a single CPU nothing is pinned (the report says so).
 */
export function planCores(enabled: boolean): CorePlan {
  if (!enabled) return { server: undefined, load: undefined, note: 'pinning disabled' };
  if (!existsSync('/usr/bin/taskset') && spawnSync('taskset', ['-V']).status !== 0) {
    return { server: undefined, load: undefined, note: 'taskset not found: nothing pinned' };
  }
  const cpus = allowedCpus();
  if (cpus.length < 2) return { server: undefined, load: undefined, note: `only ${cpus.length} CPU allowed: nothing pinned` };
  const server = cpus[cpus.length - 1]!;
  const load = cpus.slice(0, -1).join(',');
  return { server: String(server), load, note: `server on CPU ${server}, load generator and stand-ins on CPU ${load}` };
}

/** Every child this process started and has not reaped yet. */
const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort (a crash, process.exit): never leave a pinned server behind.
  process.once('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
}

export interface SpawnedProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves with the first stdout line that parses as JSON with `ready: true`. */
  ready: Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** CPU list for `taskset -c`, or undefined to leave the child unpinned. */
  cores: string | undefined;
  env?: Record<string, string>;
  /** An IPC channel (for the load generator). */
  ipc?: boolean;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
  /** Run the script under tsx (default); false for built JavaScript such as dist/node.mjs. */
  tsx?: boolean;
}

/**
 * Starts `node --import tsx <script> ...args` (one process, so its pid, CPU time and RSS are
 * the script's own), pinned with `taskset -c` when `cores` is set: taskset execs node, so the
 * pid stays the same.
 */
export function spawnNode(script: string, args: string[], options: SpawnOptions): SpawnedProcess {
  installExitHook();
  const nodeArgs = [...(options.nodeArgs ?? []), ...(options.tsx === false ? [] : ['--import', 'tsx']), script, ...args];
  const [cmd, argv] = options.cores !== undefined ? ['taskset', ['-c', options.cores, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const child = spawn(cmd as string, argv as string[], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let exited = false;
  const exitPromise = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      children.delete(child);
      r();
    }),
  );
  const ready = new Promise<Record<string, unknown>>((resolveReady, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`${script} not ready within ${options.readyTimeoutMs ?? 30_000} ms; stderr:\n${stderr}`)), options.readyTimeoutMs ?? 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const msg = JSON.parse(line) as Record<string, unknown>;
          if (msg.ready === true) {
            clearTimeout(timer);
            resolveReady(msg);
          }
        } catch {
          // not ours
        }
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before it was ready; stderr:\n${stderr}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  // A rejected ready promise nobody awaits (the child was stopped on purpose) is not an error.
  ready.catch(() => {});
  return {
    child,
    pid: child.pid!,
    ready,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitPromise;
      clearTimeout(force);
    },
  };
}

/** Stops every child still running (used in `finally` blocks and on SIGINT). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((r) => {
          if (child.exitCode !== null || child.signalCode !== null) return r();
          child.once('exit', () => r());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 3000).unref();
        }),
    ),
  );
}

const clockTicks = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/**
 * The node flags `npm start` runs dist/node.mjs with (package.json `scripts.start`), so the
 * benchmarks start the production bundle exactly as production does.
 */
export function npmStartNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts?: { start?: string } };
  const m = /\bnode((?:\s+--\S+)*)\s+dist\/node\.mjs\b/.exec(pkg.scripts?.start ?? '');
  if (!m) throw new Error('package.json scripts.start does not run `node [--flags] dist/node.mjs`');
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}

/** User + system CPU time of a process in milliseconds (/proc/<pid>/stat), or NaN. */
export function cpuTimeMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / clockTicks;
  } catch {
    return NaN;
  }
}

/** A field of /proc/<pid>/status in kB (e.g. VmHWM: the peak resident set), or NaN. */
export function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Direct children of `parent` whose command name is `comm` (e.g. the Kratos server). */
export function childPids(parent: number, comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && name === comm) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Pins every thread of a running process to `cores` (`taskset -a -pc`). */
export function pinProcess(pid: number, cores: string): boolean {
  return spawnSync('taskset', ['-a', '-pc', cores, String(pid)], { stdio: 'ignore' }).status === 0;
}

/** Polls `url` until it answers 2xx; resolves with the milliseconds waited. */
export async function waitForHttpOk(url: string, timeoutMs: number, intervalMs = 5): Promise<number> {
  const started = performance.now();
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return performance.now() - started;
    } catch {
      // not listening yet
    }
    if (performance.now() - started > timeoutMs) throw new Error(`${url} did not answer 2xx within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

let benchServerBuild: Promise<string> | undefined;

/**
 * bench/server.ts bundled into plain JavaScript (esbuild, the options of `npm run build`), so
 * every target runs as production does: no tsx loader in the process, whose transpiled output
 * names each closure at run time (`__name`, measured at several µs of every sign-up). All
 * kinds, the baselines too, run from this build. Built once per bench run.
 */
export function buildBenchServer(): Promise<string> {
  return (benchServerBuild ??= (async () => {
    const [{ build }, { zodEnglishOnly }] = await Promise.all([import('esbuild'), import('../scripts/zod-locales-plugin.ts')]);
    const outdir = join(repoRoot, '.cache', 'bench-server');
    await build({
      entryPoints: [join(benchDir, 'server.ts')],
      outdir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      // Each kind's modules in their own chunk: a process loads only what its kind imports.
      splitting: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      plugins: [zodEnglishOnly()],
      // The naive SDK baseline loads these as they are (CommonJS), as its users would.
      external: ['@ory/client', 'axios'],
      logLevel: 'warning',
    });
    return join(outdir, 'server.mjs');
  })());
}
