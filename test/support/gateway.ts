import { afterAll, expect, inject } from 'vitest';
import type { ConfigInput } from '../../src/config.ts';
import { parseConfig } from '../../src/config.ts';
import type { HttpTransport } from '../../src/shared/http.ts';
import { createLogger } from '../../src/shared/log.ts';
import { startNodeGateway, type NodeGateway } from '../../src/runtime/node.ts';

export interface TestGateway extends NodeGateway {
  logs: string[];
  kratos: { publicUrl: string; adminUrl: string };
}

/** Every log line of every gateway this test file started, for the no-secrets check. */
export const allLogs: string[] = [];

/** Secrets this test file handed to a gateway (passwords, config secrets, API keys). */
const secretsInPlay = new Set<string>(['correct-horse-battery-staple']);

/** Registers a value that must never appear in a log line. */
export function registerSecret(...values: string[]): void {
  for (const v of values) if (v.length >= 8) secretsInPlay.add(v);
}

/** Collects the secret-looking strings of a raw config: secrets.*, idempotency.secret, service headers. */
function secretsOf(config: Partial<ConfigInput>): string[] {
  const out: string[] = [...(config.secrets?.session ?? [])];
  if (config.idempotency?.secret) out.push(config.idempotency.secret);
  for (const service of config.registration?.services ?? []) out.push(...Object.values(service.http?.headers ?? {}));
  return out;
}

/**
 * Every test file that starts a gateway through this module checks, at its end, that none of
 * its log lines holds a registered secret or a Kratos session token: the whole suite's logs
 * are checked this way, not just one file's.
 */
afterAll(() => {
  if (allLogs.length === 0) return;
  const text = allLogs.join('\n');
  for (const secret of secretsInPlay) expect(text.includes(secret), `a log line contains the secret ${secret.slice(0, 4)}…`).toBe(false);
  expect(text).not.toMatch(/ory_st_[A-Za-z0-9]{8,}/);
});

/** Starts the real Node gateway on a free loopback port in front of the suite's real Kratos. */
export async function startTestGateway(
  options: { config?: Partial<ConfigInput>; kratos?: 'main' | 'short-lifespan'; wrapTransport?: (t: HttpTransport) => HttpTransport } = {},
): Promise<TestGateway> {
  const kratos = options.kratos === 'short-lifespan' ? inject('kratosShortLifespan') : inject('kratos');
  registerSecret(...secretsOf(options.config ?? {}));
  const config = parseConfig({
    server: { host: '127.0.0.1', port: 0, shutdown_timeout_ms: 2000 },
    // Rate limits and equal timing are tested on their own (abuse*.test.ts); elsewhere they would throttle the suites.
    abuse: { enabled: false },
    ...options.config,
    kratos: { public_url: kratos.publicUrl, admin_url: kratos.adminUrl, ...options.config?.kratos },
  });
  const logs: string[] = [];
  const gateway = await startNodeGateway(config, {
    logger: createLogger({ level: 'debug', sink: (l) => (logs.push(l), allLogs.push(l)) }),
    ...(options.wrapTransport ? { wrapTransport: options.wrapTransport } : {}),
  });
  return Object.assign(gateway, { logs, kratos });
}

let counter = 0;
/** A unique, valid email for one test. */
export function uniqueEmail(tag = 'user'): string {
  return `${tag}-${Date.now().toString(36)}-${process.pid}-${++counter}@example.com`;
}

/** Admin API: the identities whose credentials identifier is `email`. */
export async function identitiesByEmail(adminUrl: string, email: string): Promise<Array<{ id: string; traits: Record<string, unknown> }>> {
  const res = await fetch(`${adminUrl}/admin/identities?credentials_identifier=${encodeURIComponent(email)}`);
  if (!res.ok) throw new Error(`admin identities lookup failed: ${res.status}`);
  return (await res.json()) as Array<{ id: string; traits: Record<string, unknown> }>;
}

/** Kratos whoami with a session token. */
export async function whoami(publicUrl: string, token: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${publicUrl}/sessions/whoami`, { headers: { 'X-Session-Token': token } });
  return { status: res.status, body: await res.json() };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const password = (body as { password?: unknown } | null)?.password;
  if (typeof password === 'string') registerSecret(password);
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, body: parsed };
}
