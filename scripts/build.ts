/**
 * `npm run build`: bundles the Node entry into dist/node.mjs, so production runs plain
 * JavaScript (`npm start`, `node dist/node.mjs --config …`) instead of transpiling TypeScript
 * at start-up through tsx (measured: ~0.6 s and ~30 MiB less; see BENCHMARKS.md).
 *
 * Code splitting: what the entry imports dynamically (ioredis and BullMQ for
 * `state.backend: redis`, prom-client and the OpenTelemetry SDK for `metrics`/`tracing`) lands
 * in chunks beside it (`node-chunks/`), read only when that feature is configured. A process
 * with the defaults neither parses nor keeps that code, and V8 sizes its heap after what it
 * keeps (see README, "Memory").
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { undiciPoolOnly } from './undici-slim-plugin.ts';
import { zodEnglishOnly } from './zod-locales-plugin.ts';

/**
 * Bundles src/runtime/node.ts into `outfile` and its lazily loaded chunks into
 * `<outfile's folder>/<outfile's name>-chunks/` (tests build their own copy).
 */
export async function buildNodeEntry(outfile = 'dist/node.mjs'): Promise<void> {
  const outdir = dirname(outfile);
  const name = basename(outfile, extname(outfile));
  const chunks = `${name}-chunks`;
  // Chunk names carry a content hash: drop the previous build's, or they pile up.
  rmSync(join(outdir, chunks), { recursive: true, force: true });
  await build({
    entryPoints: { [name]: fileURLToPath(new URL('../src/runtime/node.ts', import.meta.url)) },
    outdir,
    outExtension: { '.js': extname(outfile) || '.mjs' },
    chunkNames: `${chunks}/[name]-[hash]`,
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    // CommonJS dependencies (undici) require Node built-ins; give each ESM file a `require`.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    // zod's English messages only, as in the Worker (scripts/zod-locales-plugin.ts); of undici,
    // the Pool the transport uses (scripts/undici-slim-plugin.ts).
    plugins: [zodEnglishOnly(), undiciPoolOnly()],
    logLevel: 'warning',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildNodeEntry();
  console.error('build: dist/node.mjs (and dist/node-chunks/)');
}
