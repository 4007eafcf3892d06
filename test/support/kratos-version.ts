import { inject } from 'vitest';

/**
 * The version the suite's Kratos reports (`GET <admin>/admin/version`), for tests that assert
 * what differs between the Kratos versions the gateway supports (v1.3.1: full suite; v1.0.0:
 * compatibility project). Asked of the real Kratos, so an external Kratos is judged by what it
 * is, not by what the project thinks it started. Fails loudly if Kratos does not say.
 */
export async function suiteKratosVersion(): Promise<string> {
  const res = await fetch(`${inject('kratos').adminUrl}/admin/version`);
  const body = (await res.json().catch(() => undefined)) as { version?: unknown } | undefined;
  if (res.status !== 200 || typeof body?.version !== 'string') throw new Error(`Kratos did not report its version (HTTP ${res.status})`);
  return body.version;
}

/** Kratos v1.0.0 (the compatibility version): fewer message ids, no code login, no native recovery. */
export const isKratosV100 = (version: string): boolean => /^v?1\.0\./.test(version);
