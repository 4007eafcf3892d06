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
  it('runs all four parts and writes a report with numbers in every cell', { timeout: 180_000 }, async () => {
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

      expect(report.overhead.map((o) => o.flow).sort()).toEqual(['login', 'registration']);
      for (const o of report.overhead) {
        for (const s of [o.direct, o.gateway]) {
          expect(s.failures, `${o.flow} ${s.name}: ${s.firstFailure}`).toBe(0);
          expect(positive(s.perSec) && positive(s.p50) && positive(s.p99), `${o.flow} ${s.name}`).toBe(true);
        }
        expect(positive(o.ratio)).toBe(true);
        expect(Number.isFinite(o.addedP50)).toBe(true);
      }

      const p = report.pipeline;
      for (const s of [p.gateway, p.handwritten, p.naive]) {
        expect(s.failures, `${s.name}: ${s.firstFailure}`).toBe(0);
        expect(positive(s.perSec) && positive(s.serverCpuMs), s.name).toBe(true);
      }
      expect(positive(p.vsHandwritten) && positive(p.vsNaive)).toBe(true);

      const fp = report.footprint;
      expect(positive(fp.idleRssMiB) && fp.peakRssMiB >= fp.idleRssMiB).toBe(true);
      expect(positive(fp.startupMs)).toBe(true);
      expect('error' in fp.bundle ? fp.bundle.error : undefined).toBeUndefined();
      if (!('error' in fp.bundle)) expect(fp.bundle.gzipKiB > 0 && fp.bundle.gzipKiB < fp.bundle.rawKiB).toBe(true);

      const i = report.instances;
      for (const s of [i.memory, i.redis, i.redisSingle]) {
        expect(s.failures, `${s.name}: ${s.firstFailure}`).toBe(0);
        expect(positive(s.perSec) && positive(s.p50) && positive(s.p99) && positive(s.serverCpuMs), s.name).toBe(true);
      }
      expect(positive(i.ratio) && positive(i.singleRatio) && Number.isFinite(i.addedP50) && Number.isFinite(i.addedP99)).toBe(true);
      expect(positive(i.redisCpuMs)).toBe(true);

      expect(report.targets).toHaveLength(8);
      const markdown = readFileSync(outFile, 'utf8');
      for (const heading of ['## Machine', '### 1. Overhead', '### 2. Pipeline', '### 3. Footprint', '### 4. Several instances', '### Targets']) {
        expect(markdown).toContain(heading);
      }
      expect(markdown).not.toMatch(/NaN|undefined/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
