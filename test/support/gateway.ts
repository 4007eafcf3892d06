import { inject } from 'vitest';
import type { ConfigInput } from '../../src/config.ts';
import { parseConfig } from '../../src/config.ts';
import type { HttpTransport } from '../../src/http.ts';
import { createLogger } from '../../src/log.ts';
import { startNodeGateway, type NodeGateway } from '../../src/runtime/node.ts';

export interface TestGateway extends NodeGateway {
  logs: string[];
  kratos: { publicUrl: string; adminUrl: string };
}

/** Every log line of every gateway the suite started, for the no-secrets check. */
export const allLogs: string[] = [];

/** Starts the real Node gateway on a free loopback port in front of the suite's real Kratos. */
export async function startTestGateway(
  options: { config?: Partial<ConfigInput>; kratos?: 'main' | 'short-lifespan'; wrapTransport?: (t: HttpTransport) => HttpTransport } = {},
): Promise<TestGateway> {
  const kratos = options.kratos === 'short-lifespan' ? inject('kratosShortLifespan') : inject('kratos');
  const config = parseConfig({
    server: { host: '127.0.0.1', port: 0, shutdown_timeout_ms: 2000 },
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
