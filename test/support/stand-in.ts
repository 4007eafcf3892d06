import { serve, type ServerType } from '@hono/node-server';
import { Hono, type Context } from 'hono';

/**
 * A real HTTP server on loopback standing in for external services (VAT check, CRM, mailer).
 * Each path answers with a scripted handler and records every call with its timing, headers
 * and body, so tests can assert what the gateway sent and when.
 */
export interface StandInCall {
  path: string;
  headers: Record<string, string>;
  body: any;
  startedAt: number;
  finishedAt: number;
}

export type StandInHandler = (call: { body: any; headers: Record<string, string>; count: number }) => { status: number; body?: unknown; delayMs?: number };

export interface StandIn {
  url: string;
  calls: StandInCall[];
  callsTo(path: string): StandInCall[];
  /** Calls to `path` that arrived, answered or not yet. */
  arrivals(path: string): number;
  /** Sets how `path` answers (default: 200 `{}`). */
  on(path: string, handler: StandInHandler): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startStandIn(): Promise<StandIn> {
  const handlers = new Map<string, StandInHandler>();
  const calls: StandInCall[] = [];
  const arrived = new Map<string, number>();
  const app = new Hono();
  app.all('*', async (c: Context) => {
    const startedAt = Date.now();
    arrived.set(c.req.path, (arrived.get(c.req.path) ?? 0) + 1);
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((v, k) => (headers[k] = v));
    const text = await c.req.text();
    const body = text ? JSON.parse(text) : undefined;
    const count = calls.filter((x) => x.path === c.req.path).length + 1;
    const answer = handlers.get(c.req.path)?.({ body, headers, count }) ?? { status: 200, body: {} };
    if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
    calls.push({ path: c.req.path, headers, body, startedAt, finishedAt: Date.now() });
    return c.json((answer.body ?? {}) as object, answer.status as 200);
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    callsTo: (path) => calls.filter((c) => c.path === path),
    arrivals: (path) => arrived.get(path) ?? 0,
    on: (path, handler) => void handlers.set(path, handler),
    reset: () => {
      handlers.clear();
      calls.length = 0;
      arrived.clear();
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
