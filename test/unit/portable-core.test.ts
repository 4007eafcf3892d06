import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// The core must run on Workers. tsconfig.json compiles it without Node types; this test also
// rejects Node-only imports whose own types would sneak Node globals in (undici, node-server).
const srcDir = join(import.meta.dirname, '../../src');
const nodeOnly = (file: string) => /^runtime\/node(-[a-z-]+)?\.ts$/.test(file);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('portable core', () => {
  const core = files(srcDir)
    .map((f) => relative(srcDir, f))
    .filter((f) => f.endsWith('.ts') && !nodeOnly(f));

  it('has files to check', () => {
    expect(core).toContain('app.ts');
    expect(core).toContain('runtime/worker.ts');
  });

  it.each(core)('%s uses no Node-only module or global', (file) => {
    const text = readFileSync(join(srcDir, file), 'utf8');
    expect(text).not.toMatch(/from ['"](node:|undici|@hono\/node-server|fs|path|crypto|http|https|net)['"/]/);
    expect(text).not.toMatch(/\b(process\.|Buffer\.|require\()/);
    // Metrics and traces reach the core through src/observability/telemetry.ts only (the Worker bundle stays small).
    expect(text).not.toMatch(/from ['"](prom-client|@opentelemetry\/)/);
  });
});
