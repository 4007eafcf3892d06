import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runBench } from '../../bench/run.ts';

/**
 * `npm run bench` in smoke mode (about a second per measurement), so the harness cannot rot:
 * every part runs end to end and yields numbers. It checks that the harness works, never a
 * speed. It starts its own Kratos (the binary the global setup built) so its load does not
 * meet the other test files' sign-ups; with an external Kratos (KRATOS_PUBLIC_URL) it uses
 * that one.
 */
describe('benchmark harness (smoke)', () => {
  it('runs all six parts and writes a report with numbers in every cell', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kratos-bff-bench-smoke-'));
    try {
      const outFile = join(dir, 'BENCHMARKS.md');
      const lines: string[] = [];
      const report = await runBench({
        smoke: true,
        outFile,
        log: (l) => lines.push(l),
        ...(process.env.KRATOS_PUBLIC_URL ? { kratos: inject('kratos') } : {}),
      });
      const positive = (n: number) => Number.isFinite(n) && n > 0;
      expect(report.parts).toEqual(['overhead', 'pipeline', 'footprint', 'instances', 'curves', 'worker']);
      const { overhead, pipeline: p, footprint: fp, instances: i, curves, worker } = report;
      if (!overhead || !p || !fp || !i || !curves || !worker) throw new Error(`a part is missing from the report: ${Object.keys(report).join(', ')}`);

      expect(overhead.map((o) => o.flow).sort()).toEqual(['login', 'registration']);
      for (const o of overhead) {
        for (const s of [o.direct, o.gateway]) {
          expect(s.failures, `${o.flow} ${s.name}: ${s.firstFailure}`).toBe(0);
          expect(positive(s.perSec) && positive(s.p50) && positive(s.p99), `${o.flow} ${s.name}`).toBe(true);
        }
        expect(positive(o.ratio)).toBe(true);
        expect(Number.isFinite(o.addedP50)).toBe(true);
      }

      for (const s of [p.gateway, p.handwritten, p.naive]) {
        expect(s.failures, `${s.name}: ${s.firstFailure}`).toBe(0);
        expect(positive(s.perSec) && positive(s.serverCpuMs), s.name).toBe(true);
      }
      expect(positive(p.vsHandwritten) && positive(p.vsNaive)).toBe(true);

      expect(positive(fp.idleRssMiB) && fp.peakRssMiB >= fp.idleRssMiB).toBe(true);
      expect(positive(fp.startupMs)).toBe(true);
      // The flags of `npm start` (package.json): the same bundle without them, in the same run.
      expect(fp.nodeFlags.length > 0 && fp.flagsCost !== undefined).toBe(true);
      if (fp.flagsCost) {
        for (const s of [fp.flagsCost.with, fp.flagsCost.without]) expect(s.failures, `${s.name}: ${s.firstFailure}`).toBe(0);
        expect(positive(fp.flagsCost.withoutPeakRssMiB) && positive(fp.flagsCost.perSecRatio) && positive(fp.flagsCost.cpuRatio)).toBe(true);
      }
      expect('error' in fp.bundle ? fp.bundle.error : undefined).toBeUndefined();
      if (!('error' in fp.bundle)) expect(fp.bundle.gzipKiB > 0 && fp.bundle.gzipKiB < fp.bundle.rawKiB).toBe(true);

      for (const s of [i.memory, i.redis, i.redisSingle]) {
        expect(s.failures, `${s.name}: ${s.firstFailure}`).toBe(0);
        expect(positive(s.perSec) && positive(s.p50) && positive(s.p99) && positive(s.serverCpuMs), s.name).toBe(true);
      }
      expect(positive(i.ratio) && positive(i.singleRatio) && Number.isFinite(i.addedP50) && Number.isFinite(i.addedP99)).toBe(true);
      expect(positive(i.redisCpuMs)).toBe(true);

      // 5. Curves: every point measured, with numbers, and a sentence on where each curve bends.
      const cc = curves.connections;
      expect(cc.connections).toEqual([1, 8, 32, 128, 512]);
      for (const series of [cc.gateway, cc.handwritten]) {
        expect(series).toHaveLength(cc.connections.length);
        for (const s of series) {
          expect(s.failures, `${s.name}: ${s.firstFailure}`).toBe(0);
          expect(positive(s.perSec) && positive(s.p50) && positive(s.p99) && positive(s.serverCpuMs) && positive(s.serverBusyPct), s.name).toBe(true);
        }
      }
      expect(cc.ratio.every(positive)).toBe(true);
      const sc = curves.services;
      expect(sc.services).toEqual([0, 2, 8]);
      expect(sc.gateway).toHaveLength(3);
      for (const s of sc.gateway) {
        expect(s.failures, `${s.name}: ${s.firstFailure}`).toBe(0);
        expect(positive(s.perSec) && positive(s.serverCpuMs), s.name).toBe(true);
      }
      expect(sc.relative[0]).toBe(1);
      expect(sc.relative.every(positive)).toBe(true);
      expect(curves.memory.points.map((m) => m.concurrency)).toEqual([1, 32, 128, 200, 512]);
      for (const m of curves.memory.points) {
        expect(m.failures, `memory ${m.concurrency}`).toBe(0);
        expect(positive(m.idleRssMiB) && m.peakRssMiB >= m.idleRssMiB && positive(m.perSec) && positive(m.busyPct), `memory ${m.concurrency}`).toBe(true);
      }
      for (const bend of [cc.gatewayBend, cc.handwrittenBend, sc.bend, curves.memory.bend]) expect(bend.explanation).toMatch(/\d/);

      // 6. The Worker: workerd served the sign-ups, and its CPU was read.
      for (const s of [worker.node, worker.worker]) {
        expect(s.failures, `${s.name}: ${s.firstFailure}`).toBe(0);
        expect(positive(s.perSec) && positive(s.p50) && positive(s.serverCpuMs), s.name).toBe(true);
      }
      expect(positive(worker.cpuRatio) && positive(worker.throughputRatio)).toBe(true);
      expect(worker.bundle.gzipKiB > 0 && worker.bundle.gzipKiB < worker.bundle.rawKiB).toBe(true);

      expect(report.targets).toHaveLength(9);
      const markdown = readFileSync(outFile, 'utf8');
      for (const heading of ['## Machine', '### 1. Overhead', '### 2. Pipeline', '### 3. Footprint', '### 4. Several instances', '### 5. Curves', '#### 5a.', '#### 5b.', '#### 5c.', '### 6. The Worker', '### Targets']) {
        expect(markdown).toContain(heading);
      }
      expect(markdown).not.toMatch(/NaN|undefined/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
