import { describe, expect, inject, it } from 'vitest';
import { createKratosClient } from '../../src/kratos/client.ts';
import { requireKratosFeature, type KratosFeature } from '../../src/kratos/version.ts';
import { fetchTransport } from '../../src/shared/http.ts';
import { createLogger } from '../../src/shared/log.ts';
import { suiteKratosVersion } from '../support/kratos-version.ts';

// The full suite's Kratos has every feature the gateway can refuse on an older one; the
// compat-v1.0.0 project (test/compat) shows the refusals against a real v1.0.0.
describe('the Kratos version the gateway sees (v1.3.1)', () => {
  const kratos = inject('kratos');

  it('is what Kratos reports on its admin port', async () => {
    const client = createKratosClient({ publicUrl: kratos.publicUrl, adminUrl: kratos.adminUrl, transport: fetchTransport((u, i) => fetch(u, i)), timeoutMs: 5000, identifierPointer: '/traits/email' });
    const version = await suiteKratosVersion();
    expect(version).toBe('v1.3.1');
    expect(await client.kratosVersion('it-1')).toEqual({ kind: 'ok', version });
  });

  it.each<KratosFeature>(['code_login', 'code_registration', 'native_recovery'])('allows %s', async (feature) => {
    const gateway = {
      kratos: createKratosClient({ publicUrl: kratos.publicUrl, adminUrl: kratos.adminUrl, transport: fetchTransport((u, i) => fetch(u, i)), timeoutMs: 5000, identifierPointer: '/traits/email' }),
      logger: createLogger({ level: 'error', sink: () => {} }),
    };
    await expect(requireKratosFeature(gateway, feature, 'it-2')).resolves.toBeUndefined();
  });
});
