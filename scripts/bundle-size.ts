/**
 * `npm run size`: builds the Worker exactly as `wrangler deploy` would (`--dry-run`) and
 * prints its size, raw and gzip. `--json` prints a machine-readable line.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface BundleSize {
  rawBytes: number;
  gzipBytes: number;
  path: string;
}

/** Bundles the Worker into `outDir` (inside the repo: workerd will not load modules from outside its root). */
export function buildWorkerBundle(outDir = resolve('.cache/worker')): BundleSize {
  rmSync(outDir, { recursive: true, force: true });
  execFileSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  const path = join(outDir, 'worker.js');
  const code = readFileSync(path);
  return { rawBytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length, path };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const size = buildWorkerBundle();
  if (process.argv.includes('--json')) console.log(JSON.stringify(size));
  else console.log(`worker bundle: ${(size.rawBytes / 1024).toFixed(1)} KiB raw, ${(size.gzipBytes / 1024).toFixed(1)} KiB gzip (${size.path})`);
}
