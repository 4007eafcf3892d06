/**
 * Copies the docs page's renderer files (swagger-ui-dist) to .cache/docs-assets: the Worker's
 * static assets directory (`[assets]` in wrangler.toml; wrangler runs this as its `[build]`
 * command before every deploy, dry run and `wrangler dev`). On Node they are read from
 * node_modules directly.
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { docsAssetNames } from '../src/docs/config.ts';

export function copyDocsAssets(outDir = resolve('.cache/docs-assets')): string {
  const from = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const name of docsAssetNames) copyFileSync(join(from, name), join(outDir, name));
  return outDir;
}

if (import.meta.url === `file://${process.argv[1]}`) copyDocsAssets();
