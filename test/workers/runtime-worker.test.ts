import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { buildWorkerBundle } from '../../scripts/bundle-size.ts';
import { defineRuntimeScenarios, scenarioEnv } from '../support/runtime-scenarios.ts';

/**
 * The Worker build, run inside workerd (Miniflare's API, the runtime `wrangler dev` uses),
 * against the same real Kratos and the same scenarios as the Node entry. The Idempotency-Key
 * store is the IdempotencyObject Durable Object, persisted to a temp dir so the test can see
 * that it was used.
 */
defineRuntimeScenarios('worker (workerd)', async (raw) => {
  const bundle = buildWorkerBundle();
  const persist = mkdtempSync(join(tmpdir(), 'kbff-do-'));
  const mf = new Miniflare({
    modules: true,
    modulesRoot: join(bundle.path, '..'),
    scriptPath: bundle.path,
    compatibilityDate: '2025-09-01',
    cf: false, // no internet: do not fetch Cloudflare's request.cf placeholder
    bindings: { GATEWAY_CONFIG: JSON.stringify(raw), ...scenarioEnv },
    durableObjects: { IDEMPOTENCY: 'IdempotencyObject' },
    durableObjectsPersist: persist,
    port: 0,
  });
  const url = (await mf.ready).href.replace(/\/$/, '');
  return {
    url,
    idempotencyEvidence: async () => readdirSync(persist, { recursive: true }).some((f) => String(f).endsWith('.sqlite')),
    close: async () => {
      await mf.dispose();
      rmSync(persist, { recursive: true, force: true });
    },
  };
});
