import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUndiciTransport } from '../../src/runtime/node-transport.ts';
import { TransportError } from '../../src/shared/http.ts';

// The Node transport (undici dispatch with a collecting handler, issue 16) against a real
// loopback server: what it returns and how each failure is classified.
let server: Server;
let origin: string;
const seen: Array<{ method: string; url: string; headers: Record<string, unknown>; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.url === '/chunked') {
        res.writeHead(201, { 'content-type': 'application/json', 'x-multi': ['a', 'b'] });
        res.write('{"part":');
        setTimeout(() => res.end(`"${'é'.repeat(40_000)}"}`), 5);
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 500);
      } else if (req.url === '/empty') {
        res.writeHead(204).end();
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'retry-after': '7' }).end('ok');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  origin = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('createUndiciTransport', () => {
  it('sends method, path, headers and body; returns status, lower-case headers and the body', async () => {
    const t = createUndiciTransport();
    const res = await t.transport({ method: 'POST', origin, path: '/x?y=1', headers: { 'x-request-id': 'r1', 'content-type': 'application/json' }, body: '{"a":1}', timeoutMs: 2000 });
    expect(res).toEqual({ status: 200, headers: expect.objectContaining({ 'content-type': 'text/plain', 'retry-after': '7' }), body: 'ok' });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/x?y=1', body: '{"a":1}', headers: expect.objectContaining({ 'x-request-id': 'r1' }) });
    await t.close();
  });

  it('joins a body that arrives in many chunks (multi-byte characters across chunk edges) and repeated headers', async () => {
    const t = createUndiciTransport();
    const res = await t.transport({ method: 'GET', origin, path: '/chunked', headers: {}, timeoutMs: 2000 });
    expect(res.status).toBe(201);
    expect(res.headers['x-multi']).toBe('a, b');
    expect(JSON.parse(res.body)).toEqual({ part: 'é'.repeat(40_000) });
    const empty = await t.transport({ method: 'GET', origin, path: '/empty', headers: {}, timeoutMs: 2000 });
    expect(empty).toMatchObject({ status: 204, body: '' });
    await t.close();
  });

  it('a timeout is a TransportError that says timedOut and may have been sent, on time even below a second', async () => {
    const t = createUndiciTransport();
    const started = performance.now();
    const err = await t.transport({ method: 'GET', origin, path: '/slow', headers: {}, timeoutMs: 100 }).catch((e: unknown) => e);
    // undici's own timers tick about once a second: the answer at 500 ms would have won.
    expect(performance.now() - started).toBeLessThan(450);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ timedOut: true, sent: true, aborted: false, message: 'upstream timed out' });
    await t.close();
  });

  it('a refused connection is unreachable and known not to have been sent', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const a = closed.address();
    await new Promise<void>((r) => closed.close(() => r()));
    const t = createUndiciTransport();
    const err = await t.transport({ method: 'POST', origin: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, path: '/', headers: {}, body: 'x', timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TransportError', timedOut: false, sent: false, message: 'upstream unreachable' });
    await t.close();
  });

  it('abortAllExcept cuts calls in flight; a caller whose signal is aborted sees an aborted call', async () => {
    const t = createUndiciTransport();
    const controller = new AbortController();
    const pending = t.transport({ method: 'GET', origin, path: '/slow', headers: {}, timeoutMs: 5000, signal: controller.signal }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    t.abortAllExcept([]);
    expect(await pending).toMatchObject({ name: 'TransportError', aborted: true, sent: true });
    // Later calls get a fresh pool.
    expect((await t.transport({ method: 'GET', origin, path: '/', headers: {}, timeoutMs: 2000 })).status).toBe(200);
    await t.close();
  });

  it('a call on a closed transport fails as a TransportError, not a thrown undici error', async () => {
    const t = createUndiciTransport();
    await t.transport({ method: 'GET', origin, path: '/', headers: {}, timeoutMs: 2000 });
    await t.close();
    const err = await t.transport({ method: 'GET', origin, path: '/', headers: {}, timeoutMs: 2000 }).then(
      () => 'answered',
      (e: unknown) => e,
    );
    // close() forgets the pools, so a later call opens a new one and is answered.
    expect(err).toBe('answered');
    await t.close();
  });
});
