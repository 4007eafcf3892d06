import { createApp, type AppDeps } from '../../src/app.ts';
import { parseConfig, type ConfigInput } from '../../src/config.ts';
import { createKratosClient } from '../../src/kratos/client.ts';
import { createLogger } from '../../src/shared/log.ts';
import { createFakeKratos, type FakeKratos } from './fake-kratos.ts';

/** createApp() on a fake Kratos, with captured log lines. */
export function appWithFakeKratos(overrides: Partial<ConfigInput> = {}, deps: Partial<AppDeps> = {}) {
  const fake: FakeKratos = createFakeKratos();
  const config = parseConfig({
    kratos: { public_url: 'http://kratos.test', admin_url: 'http://kratos-admin.test' },
    // Rate limits and equal timing are tested on their own (abuse-*.test.ts); elsewhere they would throttle the suites.
    abuse: { enabled: false },
    ...overrides,
  });
  const logs: string[] = [];
  const app = createApp({
    config,
    kratos: createKratosClient({
      publicUrl: config.kratos.public_url,
      adminUrl: config.kratos.admin_url,
      transport: fake.transport,
      timeoutMs: 1000,
      identifierPointer: config.kratos.identifier_pointer,
    }),
    logger: createLogger({ level: 'debug', sink: (l) => logs.push(l) }),
    transport: fake.transport,
    ...deps,
  });
  return { app, fake, logs, config };
}

export const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});
