/**
 * `npm run build`: bundles the Node entry into dist/node.mjs, so production runs plain
 * JavaScript (`npm start`, `node dist/node.mjs --config …`) instead of transpiling TypeScript
 * at start-up through tsx (measured: ~0.6 s and ~30 MiB less; see BENCHMARKS.md).
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { zodEnglishOnly } from './zod-locales-plugin.ts';

/** Bundles src/runtime/node.ts into `outfile` (tests build their own copy). */
export async function buildNodeEntry(outfile = 'dist/node.mjs'): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL('../src/runtime/node.ts', import.meta.url))],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    // CommonJS dependencies (undici) require Node built-ins; give the ESM bundle a `require`.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    // zod's English messages only, as in the Worker (scripts/zod-locales-plugin.ts).
    plugins: [zodEnglishOnly()],
    logLevel: 'warning',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildNodeEntry();
  console.error('build: dist/node.mjs');
}
