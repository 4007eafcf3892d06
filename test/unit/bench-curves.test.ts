import { describe, expect, it } from 'vitest';
import { memoryBend, servicesBend, throughputKnee, type MemoryPoint } from '../../bench/curves.ts';
import type { TargetStats } from '../../bench/report.ts';

/** Where the bench's curves say they bend: plain functions of the measured points. */
const stats = (perSec: number, serverBusyPct: number, loadBusyPct = 40, serverCpuMs = 0.3): TargetStats => ({
  name: 't',
  perSec,
  p50: 1,
  p99: 2,
  serverCpuMs,
  serverBusyPct,
  loadBusyPct,
  failures: 0,
});

describe('bench curves: where a curve bends', () => {
  it('puts the knee at the last point before throughput grows by 10% or less, and blames a saturated server core', () => {
    const bend = throughputKnee([1, 8, 32, 128], [stats(500, 30), stats(2000, 95), stats(2100, 99), stats(2050, 99)], 'connections');
    expect(bend.index).toBe(1);
    expect(bend.explanation).toMatch(/^bends at 8 connections/);
    expect(bend.explanation).toContain('server core is 95% busy');
  });

  it('names the load core when it, not the server, is saturated, and says so when neither is', () => {
    expect(throughputKnee([1, 8], [stats(1000, 50, 97), stats(1050, 52, 98)], 'connections').explanation).toContain('load side, not the server');
    expect(throughputKnee([1, 8], [stats(1000, 50, 40), stats(1050, 52, 40)], 'connections').explanation).toContain('CPU does not explain');
    // The core was busy, but not with the server: other processes on a shared machine.
    expect(throughputKnee([1, 8], [stats(1000, 20, 40), stats(1050, 22, 40)], 'connections', [97, 98]).explanation).toContain('other processes on that core');
  });

  it('reports no knee while throughput keeps growing', () => {
    const bend = throughputKnee([1, 8, 32], [stats(100, 10), stats(500, 50), stats(900, 90)], 'connections');
    expect(bend.index).toBeUndefined();
    expect(bend.explanation).toMatch(/still grows/);
  });

  it('bends against services where throughput drops by more than 10%, with the CPU per added service', () => {
    const bend = servicesBend([0, 2, 8], [stats(3000, 99, 40, 0.3), stats(2900, 99, 40, 0.32), stats(2000, 99, 40, 0.5)]);
    expect(bend.index).toBe(2);
    expect(bend.explanation).toContain('0→2: 10 µs');
    expect(bend.explanation).toContain('2→8: 30 µs');
  });

  it('bends the memory curve where the RSS per added sign-up changes by more than 2×', () => {
    const point = (concurrency: number, peakRssMiB: number, busyPct: number): MemoryPoint => ({ concurrency, idleRssMiB: 80, peakRssMiB, perSec: 1000, busyPct, failures: 0 });
    // 1→33: 32 KiB per sign-up; 33→129: 32 KiB; 129→225: 128 KiB (4×).
    const bend = memoryBend([point(1, 80, 20), point(33, 81, 60), point(129, 84, 95), point(225, 96, 99)]);
    expect(bend.index).toBe(2);
    expect(bend.explanation).toMatch(/^bends at 129 concurrent \(32 → 128 KiB/);
    expect(bend.explanation).toContain('saturated');
    expect(memoryBend([point(1, 80, 20), point(33, 81, 60), point(129, 84, 95)]).index).toBeUndefined();
  });
});
