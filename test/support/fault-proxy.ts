import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP proxy on loopback between the gateway and Kratos that injects faults into
 * chosen requests: hold a request before forwarding it (Kratos answers after the gateway gave
 * up), or forward it and then drop the connection without answering (the answer is lost).
 */
export type Fault =
  /** Wait `ms`, run `before` (e.g. create a competing identity), then forward; the answer goes back if the client still listens. */
  | { kind: 'hold'; ms: number; before?: () => Promise<void> }
  /** Forward, let Kratos finish, then destroy the client's socket without an answer. */
  | { kind: 'drop_after_forward'; before?: () => Promise<void> }
  /** Answer `status` without forwarding. */
  | { kind: 'fail'; status: number; before?: () => Promise<void> };

export interface ProxiedRequest {
  method: string;
  path: string;
  status?: number;
  fault?: Fault['kind'];
  /** The headers as they arrived (and were forwarded to Kratos). */
  headers: IncomingMessage['headers'];
}

export interface FaultProxy {
  url: string;
  /** Every request, with Kratos's status when it answered. */
  requests: ProxiedRequest[];
  /** Decides the fault for a request (undefined: forward as is). */
  rule: (req: { method: string; path: string; nth: number }) => Fault | undefined;
  /** Clears the rule, the record and the per-path counts. */
  reset(): void;
  /** Resolves when every held or forwarded request has finished at Kratos. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const pending = new Set<Promise<void>>();
  const counts = new Map<string, number>();
  const proxy: FaultProxy = {
    url: '',
    requests: [],
    rule: () => undefined,
    reset: () => {
      proxy.rule = () => undefined;
      proxy.requests.length = 0;
      counts.clear();
    },
    settled: async () => {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  function forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const out = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const key = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    const nth = (counts.get(key) ?? 0) + 1;
    counts.set(key, nth);
    const path = req.url ?? '/';
    const fault = proxy.rule({ method: req.method ?? 'GET', path, nth });
    const record: ProxiedRequest = { method: req.method ?? 'GET', path, headers: req.headers, ...(fault ? { fault: fault.kind } : {}) };
    proxy.requests.push(record);
    if (fault?.kind === 'hold') await new Promise((r) => setTimeout(r, fault.ms));
    await fault?.before?.();
    if (fault?.kind === 'fail') {
      record.status = fault.status;
      res.writeHead(fault.status, { 'content-type': 'application/json' }).end('{"error":{"code":500,"message":"injected"}}');
      return;
    }
    const answer = await forward(req, Buffer.concat(chunks));
    record.status = answer.status;
    if (fault?.kind === 'drop_after_forward') {
      req.socket.destroy();
      return;
    }
    if (res.destroyed || req.socket.destroyed) return;
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }

  const server: Server = createServer((req, res) => {
    const done = handle(req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) res.writeHead(502).end();
    });
    pending.add(done);
    void done.finally(() => pending.delete(done));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
