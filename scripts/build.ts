/**
 * `npm run build`: bundles the Node entry into dist/node.mjs, so production runs plain
 * JavaScript (`npm start`, `node dist/node.mjs --config …`) instead of transpiling TypeScript
 * at start-up through tsx (measured: ~0.6 s and ~30 MiB less; see BENCHMARKS.md).
 */
import { build } from 'esbuild';

await build({
  entryPoints: ['src/runtime/node.ts'],
  outfile: 'dist/node.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  // CommonJS dependencies (undici) require Node built-ins; give the ESM bundle a `require`.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
console.error('build: dist/node.mjs');
