import type { Plugin } from 'esbuild';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

/**
 * esbuild plugin: bundles zod's English messages only. `@hono/zod-openapi` hands zod's whole
 * `z` namespace to zod-to-openapi, so no bundler can tree-shake `z.locales`: every bundle
 * carried zod's 40-odd translations (255 KiB of the Worker's 591 KiB minified, measured with
 * an esbuild metafile). The gateway never calls `z.config(z.locales.xx())`; its messages are
 * its own (src/errors.ts). With this plugin `z.locales` holds `en` alone.
 *
 * For the same reason `z.fromJSONSchema` (JSON Schema → zod, never used here: the gateway's
 * schemas are written in zod) is replaced by a function that throws, instead of its 12 KiB.
 */
export function zodEnglishOnly(): Plugin {
  const require = createRequire(import.meta.url);
  const en = require.resolve('zod/v4/locales/en.js').replace(/\.cjs$/, '.js');
  return {
    name: 'zod-english-only',
    setup(build) {
      build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
        /[\\/]zod[\\/]/.test(args.importer) ? { path: 'zod-locales-en-only', namespace: 'zod-english-only' } : undefined,
      );
      build.onResolve({ filter: /\/from-json-schema\.js$/ }, (args) =>
        /[\\/]zod[\\/]/.test(args.importer) ? { path: 'zod-from-json-schema', namespace: 'zod-english-only' } : undefined,
      );
      build.onLoad({ filter: /^zod-locales-en-only$/, namespace: 'zod-english-only' }, () => ({
        contents: `export { default as en } from ${JSON.stringify(en)};`,
        loader: 'js',
        resolveDir: dirname(en),
      }));
      build.onLoad({ filter: /^zod-from-json-schema$/, namespace: 'zod-english-only' }, () => ({
        contents: `export function fromJSONSchema() { throw new Error('z.fromJSONSchema is not bundled in kratos-bff (scripts/zod-locales-plugin.ts)'); }`,
        loader: 'js',
      }));
    },
  };
}
