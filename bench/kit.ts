/**
 * What the newer bench parts (curves, worker) get from bench/run.ts: the shared load generator,
 * stand-ins, pinning and the same alternating-rounds comparison as parts 1–4, passed in so that
 * those parts live in their own files without importing run.ts.
 */
import { readFileSync } from 'node:fs';
import type { CorePlan } from './harness.ts';
import type { LoadGenerator } from './load.ts';
import type { TargetStats } from './report.ts';
import type { ServerKind, ServerOptions } from './server.ts';

/** The parts of `npm run bench`, in the order they run. */
export const BENCH_PARTS = ['overhead', 'pipeline', 'footprint', 'instances', 'curves', 'worker'] as const;
export type BenchPart = (typeof BENCH_PARTS)[number];

/** `--parts pipeline,curves` → the parts, in run order; throws on an unknown name. */
export function parseParts(list: string | undefined): BenchPart[] {
  if (list === undefined || list.trim() === '' || list.trim() === 'all') return [...BENCH_PARTS];
  const wanted = list.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of wanted) {
    if (!(BENCH_PARTS as readonly string[]).includes(p)) throw new Error(`unknown bench part "${p}"; parts: ${BENCH_PARTS.join(', ')}`);
  }
  return BENCH_PARTS.filter((p) => wanted.includes(p));
}

export interface KitTarget {
  name: string;
  url: string;
  /** The process whose CPU time is read around each run. */
  pid: number;
}

export interface KitServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Medians over rounds, per target, in the order given. */
export interface Comparison {
  stats: TargetStats[];
  /**
   * Median over rounds of target a's value / target b's in the same round: sign-ups/s
   * (default) or the server's CPU time per sign-up.
   */
  ratio(a: number, b: number, of?: 'perSec' | 'serverCpuMs'): number;
  /**
   * Share of the server core that was busy with any process (/proc/stat) over the whole
   * comparison, %: far above the server's own share means other processes took the core.
   */
  coreBusyPct: number;
}

export interface CompareTiming {
  connections: number;
  durationSec: number;
  warmupSec: number;
  /** Default: the run's (5, or 1 in a smoke run). */
  rounds?: number;
}

/** Busy and total jiffies of one CPU (the `cpuN` line of /proc/stat); undefined when unreadable. */
export function cpuJiffies(cpu: string | undefined): { busy: number; total: number } | undefined {
  if (cpu === undefined || !/^\d+$/.test(cpu)) return undefined;
  try {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${cpu} `));
    if (!line) return undefined;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    // idle + iowait
    return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

/** Runs `fn` and returns how busy `cpu` was meanwhile, all processes, % (NaN if unknown). */
export async function withCoreBusy<T>(cpu: string | undefined, fn: () => Promise<T>): Promise<{ value: T; busyPct: number }> {
  const a = cpuJiffies(cpu);
  const value = await fn();
  const b = cpuJiffies(cpu);
  const busyPct = a && b && b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * 100 : NaN;
  return { value, busyPct };
}

export interface BenchKit {
  smoke: boolean;
  rounds: number;
  cores: CorePlan;
  load: LoadGenerator;
  standIns: { kratosUrl: string; servicesUrl: string; pid: number };
  runTag: string;
  log(line: string): void;
  /** Lines for the report's Notes section. */
  notes: string[];
  /** Part 2's gateway config: zero-cost Kratos and two services (one before, one after). */
  gatewayConfig(port?: number): Record<string, unknown>;
  /** A bench/server.ts child, pinned to the server core once ready. */
  startServer(kind: ServerKind, options: ServerOptions): Promise<KitServer>;
  /**
   * Sign-ups against each target, same generator and connections: a warm-up each, then
   * `rounds` rounds that run every target once, starting with a different one each round.
   */
  compare(targets: KitTarget[], timing: CompareTiming, label: string): Promise<Comparison>;
}
