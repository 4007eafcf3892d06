import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { DocsAssetSource } from '../docs/config.ts';

/**
 * The docs page's renderer files on Node: read from the installed swagger-ui-dist package
 * (a dependency), once, then kept in memory (about 2 MB).
 */
export function nodeDocsAssets(): DocsAssetSource {
  const cache = new Map<string, Promise<string | null>>();
  let dir: string | undefined;
  return (name) => {
    let file = cache.get(name);
    if (!file) {
      dir ??= dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
      // Both files are UTF-8 text (a script and a stylesheet).
      file = readFile(join(dir, name), 'utf8').catch(() => null);
      cache.set(name, file);
    }
    return file;
  };
}
