/**
 * `npm run lint:openapi`: builds the app from a stock config (the one in test/support would need
 * a fake Kratos; the document never calls Kratos, so plain URLs do), writes `/openapi.json` to
 * .cache/openapi/openapi.json and runs `redocly lint` on it with the checked-in redocly.yaml.
 * `tsx scripts/openapi.ts dump <file>` only writes the document.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createApp } from '../src/app.ts';
import { parseConfig, type ConfigInput } from '../src/config.ts';
import { createKratosClient } from '../src/kratos/client.ts';
import { createLogger } from '../src/shared/log.ts';

/** The OpenAPI document the gateway serves with `overrides` on a stock config. */
export async function openApiDocument(overrides: Partial<ConfigInput> = {}): Promise<unknown> {
  const config = parseConfig({ kratos: { public_url: 'http://127.0.0.1:4433', admin_url: 'http://127.0.0.1:4434' }, ...overrides });
  const transport = () => Promise.reject(new Error('the OpenAPI document never calls Kratos'));
  const app = createApp({
    config,
    kratos: createKratosClient({
      publicUrl: config.kratos.public_url,
      adminUrl: config.kratos.admin_url,
      transport,
      timeoutMs: 1000,
      identifierPointer: config.kratos.identifier_pointer,
    }),
    logger: createLogger({ level: 'error', sink: () => {} }),
    transport,
  });
  const res = await app.request(`${config.server.base_path}/openapi.json`);
  if (res.status !== 200) throw new Error(`/openapi.json answered ${res.status}`);
  return res.json();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const doc = JSON.stringify(await openApiDocument(), null, 2);
  if (process.argv[2] === 'dump') {
    writeFileSync(process.argv[3] ?? 'openapi.json', doc);
  } else {
    // A fixed, git-ignored path: .redocly.lint-ignore.yaml names the file its exceptions are for.
    const dir = resolve('.cache/openapi');
    const file = join(dir, 'openapi.json');
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, doc);
    try {
      execFileSync('npx', ['redocly', 'lint', file, '--config', resolve('redocly.yaml'), ...process.argv.slice(2)], {
        stdio: 'inherit',
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      });
    } catch {
      process.exitCode = 1;
    }
  }
}
