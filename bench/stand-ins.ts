/**
 * Zero-cost upstreams for the pipeline part: loopback servers that answer at once with
 * precomputed bodies. One answers like Kratos's public API (the recorded v1.3.1 answers in
 * test/fixtures/kratos), the other like two external services (`/services/before`,
 * `/services/after`). Bare node:http, so they cost the same little per call for every
 * target, and they run on the load core, away from the server under test.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { repoRoot } from './harness.ts';

export interface StandIns {
  kratosUrl: string;
  servicesUrl: string;
  close(): Promise<void>;
}

const fixture = (name: string) => Buffer.from(JSON.stringify(JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/kratos', `${name}.json`), 'utf8'))));

type Answer = { status: number; body: Buffer };

function server(route: (method: string, path: string) => Answer): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const { method = 'GET', url = '/' } = req;
    const q = url.indexOf('?');
    const answer = route(method, q === -1 ? url : url.slice(0, q));
    // Read the body to the end before answering, as a real server does.
    req.resume();
    req.once('end', () => {
      res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': answer.body.length });
      res.end(answer.body);
    });
  });
}

function listen(s: Server): Promise<string> {
  s.keepAliveTimeout = 60_000;
  return new Promise((resolve) =>
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      resolve(`http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`);
    }),
  );
}

export async function startStandIns(): Promise<StandIns> {
  const flow = fixture('registration-flow');
  const success = fixture('registration-success');
  const ok = Buffer.from('{"status":"ok"}');
  const notFound = Buffer.from('{"error":{"code":404,"status":"Not Found"}}');
  const kratos = server((method, path) => {
    if (method === 'GET' && path === '/self-service/registration/api') return { status: 200, body: flow };
    if (method === 'POST' && path === '/self-service/registration') return { status: 200, body: success };
    if (method === 'GET' && (path === '/health/ready' || path === '/health/alive')) return { status: 200, body: ok };
    return { status: 404, body: notFound };
  });
  const services = server((method, path) =>
    method === 'POST' && (path === '/services/before' || path === '/services/after') ? { status: 200, body: ok } : { status: 404, body: notFound },
  );
  const [kratosUrl, servicesUrl] = await Promise.all([listen(kratos), listen(services)]);
  return {
    kratosUrl,
    servicesUrl,
    close: async () => {
      kratos.close();
      services.close();
    },
  };
}
