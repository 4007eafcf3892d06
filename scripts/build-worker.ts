/**
 * Wrangler's custom build (`[build] command` in wrangler.toml): bundles src/runtime/worker.ts
 * into .cache/worker-entry/worker.mjs with zod's English messages only (see
 * scripts/zod-locales-plugin.ts); wrangler then bundles and minifies that file as `main`.
 * `wrangler dev`, `wrangler deploy` and `npm run size` all run it first.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { zodEnglishOnly } from './zod-locales-plugin.ts';

export const workerEntry = fileURLToPath(new URL('../.cache/worker-entry/worker.mjs', import.meta.url));

export async function buildWorkerEntry(outfile = workerEntry): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL('../src/runtime/worker.ts', import.meta.url))],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    external: ['cloudflare:*', 'node:*'],
    plugins: [zodEnglishOnly()],
    logLevel: 'warning',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildWorkerEntry();
}
