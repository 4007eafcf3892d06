/**
 * `npm run build:package` (and `prepack`): the published JavaScript and .d.ts files in dist/lib,
 * compiled by tsc from src/ (tsconfig.build.json). tsc rewrites `./x.ts` imports to `./x.js` in
 * the JavaScript but leaves them in the .d.ts files; TypeScript resolves either, but `.js` is
 * what every other tool expects, so they are rewritten here too.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(root, 'dist/lib');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** `from './x.ts'`, `import('../y.ts')` → `.js`; bare specifiers are left alone. */
export function rewriteDeclarationImports(text: string): string {
  return text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g, '$1$2.js$3');
}

export function buildPackage(): void {
  rmSync(outDir, { recursive: true, force: true });
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  for (const file of filesUnder(outDir).filter((f) => f.endsWith('.d.ts'))) {
    const text = readFileSync(file, 'utf8');
    const rewritten = rewriteDeclarationImports(text);
    if (rewritten !== text) writeFileSync(file, rewritten);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildPackage();
  console.error('build:package: dist/lib');
}
