import type { Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpRequest } from '../../src/shared/http.ts';
import { identitiesByEmail, postJson, registerSecret, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';

// Slow, stuck and malformed clients against the real Node server, over raw loopback sockets:
// each is cut within its configured bound with a problem+json answer, then disconnected.
const HEADERS_MS = 300;
const REQUEST_MS = 600;
const KEEP_ALIVE_MS = 300;
const MAX_HEADER_BYTES = 8192;
// A shared, noisy 2-core machine: generous, but far below Node's defaults (60–330 s).
const TOLERANCE_MS = 1500;
// Not before its bound (Node's clock starts at the first byte, just after our connect).
const EARLY_MS = 50;
// Node holds an idle keep-alive socket 1 s past the timeout it advertises (Keep-Alive: timeout=N),
// so that clients, not the server, close first.
const NODE_KEEP_ALIVE_BUFFER_MS = 1000;
const PASSWORD = 'correct-horse-battery-staple';

const upstreamCalls: HttpRequest[] = [];
let upstreamDelayMs = 0;
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    config: {
      server: {
        host: '127.0.0.1',
        port: 0,
        shutdown_timeout_ms: 2000,
        headers_timeout_ms: HEADERS_MS,
        request_timeout_ms: REQUEST_MS,
        keep_alive_timeout_ms: KEEP_ALIVE_MS,
        max_header_bytes: MAX_HEADER_BYTES,
      },
    },
    wrapTransport: (t) => async (req) => {
      upstreamCalls.push(req);
      if (upstreamDelayMs > 0) await new Promise((r) => setTimeout(r, upstreamDelayMs));
      return t(req);
    },
  });
});
afterAll(async () => {
  await gw?.close();
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/** A raw HTTP/1.1 client: what it sends is exactly what the test writes. */
class RawClient {
  readonly startedAt = Date.now();
  private buf = '';
  private closedAt: number | undefined;
  private wake: () => void = () => {};

  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => ((this.buf += d), this.wake()));
    // FIN (end) or a reset both mean the server let go of the connection.
    const closed = () => ((this.closedAt ??= Date.now()), this.wake());
    socket.on('end', closed);
    socket.on('close', closed);
    socket.on('error', closed);
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  write(data: string): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(data, 'latin1');
  }

  get isClosed(): boolean {
    return this.closedAt !== undefined;
  }

  /** Bytes received and not yet taken by `response()`. */
  get unread(): string {
    return this.buf;
  }

  private async until<T>(what: string, ready: () => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = ready();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: nothing after ${Date.now() - this.startedAt} ms (connection still open: ${!this.isClosed})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => (clearTimeout(t), resolve());
      });
    }
  }

  /** The next complete response (Content-Length framed). */
  response(timeoutMs: number): Promise<RawResponse> {
    return this.until(
      'waiting for a response',
      () => {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return undefined;
        const [statusLine = '', ...lines] = this.buf.slice(0, end).split('\r\n');
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const length = Number(headers['content-length'] ?? 0);
        const bytes = Buffer.from(this.buf.slice(end + 4), 'latin1');
        if (bytes.length < length) return undefined;
        this.buf = bytes.subarray(length).toString('latin1');
        const text = bytes.subarray(0, length).toString('utf8');
        let body: any = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: kept as text for the assertion to show
        }
        return { status: Number(statusLine.split(' ')[1]), headers, body };
      },
      timeoutMs,
    );
  }

  /** Milliseconds from connect until the server closed the connection. */
  closed(timeoutMs: number): Promise<number> {
    return this.until('waiting for the server to close', () => (this.closedAt === undefined ? undefined : this.closedAt - this.startedAt), timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The problem+json answer of a cut, in the app's own shape. */
function expectProblem(res: RawResponse, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(res.headers['connection']).toBe('close');
  expect(res.body).toEqual({
    type: `urn:kratos-bff:problem:${code.toLowerCase().replaceAll('_', '-')}`,
    title: expect.any(String),
    status,
    code,
    detail: expect.any(String),
    request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    errors: [],
  });
  expect(res.headers['x-request-id']).toBe(res.body.request_id);
}

function report(what: string, ms: number): void {
  console.log(`[node-limits] ${what}: ${ms} ms`);
}

describe('slow and stuck clients (Node)', () => {
  it('cuts a slowloris client (headers trickled forever) with 408 problem+json within headers_timeout_ms', async () => {
    // A header value that looks like a credential: it must not reach any log line.
    const secret = `slowloris-secret-${Date.now()}`;
    registerSecret(secret);
    const client = await RawClient.open(gw.port);
    client.write(`GET /health/alive HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: ${secret}\r\n`);
    let n = 0;
    const trickle = setInterval(() => client.write(`X-Trickle-${n++}: ${'a'.repeat(10)}\r\n`), 100);
    try {
      const res = await client.response(HEADERS_MS + TOLERANCE_MS);
      expectProblem(res, 408, 'REQUEST_TIMEOUT');
      const closedMs = await client.closed(TOLERANCE_MS);
      report(`slowloris cut (headers_timeout_ms ${HEADERS_MS}, ${n} headers sent)`, closedMs);
      expect(closedMs).toBeGreaterThanOrEqual(HEADERS_MS - EARLY_MS);
      expect(closedMs).toBeLessThan(HEADERS_MS + TOLERANCE_MS);
      expect(n).toBeGreaterThanOrEqual(2); // it really was trickling when cut
    } finally {
      clearInterval(trickle);
      client.destroy();
    }
    const cut = gw.logs.find((l) => l.includes('"msg":"client cut"') && l.includes('REQUEST_TIMEOUT'));
    expect(cut).toBeDefined();
    expect(JSON.parse(cut!)).toMatchObject({ level: 'info', status: 408, reason: 'ERR_HTTP_REQUEST_TIMEOUT' });
    expect(gw.logs.join('\n')).not.toContain('X-Trickle');
  });

  it('cuts a body that stops short of its Content-Length with 408 within request_timeout_ms; Kratos is never called', async () => {
    const email = uniqueEmail('short-body');
    const partial = JSON.stringify({ traits: { email }, password: PASSWORD }).slice(0, -2);
    const callsBefore = upstreamCalls.length;
    const client = await RawClient.open(gw.port);
    client.write(
      'POST /v1/registration HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${partial.length + 100}\r\n\r\n${partial}`,
    );
    try {
      const res = await client.response(REQUEST_MS + TOLERANCE_MS);
      expectProblem(res, 408, 'REQUEST_TIMEOUT');
      const closedMs = await client.closed(TOLERANCE_MS);
      report(`short body cut (request_timeout_ms ${REQUEST_MS})`, closedMs);
      // The headers were complete, so it is the request timeout that cut, not the headers one.
      expect(closedMs).toBeGreaterThanOrEqual(REQUEST_MS - EARLY_MS);
      expect(closedMs).toBeLessThan(REQUEST_MS + TOLERANCE_MS);
      expect(client.unread).toBe('');
    } finally {
      client.destroy();
    }
    // The handler that was waiting for the body gives up without calling anything.
    await new Promise((r) => setTimeout(r, 300));
    expect(upstreamCalls.length).toBe(callsBefore);
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toEqual([]);
  });

  it('does not cut a body that is slow but complete within request_timeout_ms', async () => {
    const email = uniqueEmail('slow-body');
    const body = JSON.stringify({ traits: { email }, password: PASSWORD });
    const client = await RawClient.open(gw.port);
    try {
      client.write(`POST /v1/registration HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      const third = Math.ceil(body.length / 3);
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, REQUEST_MS / 6));
        client.write(body.slice(i * third, (i + 1) * third));
      }
      const res = await client.response(15_000);
      expect(res.status).toBe(200);
      expect(res.body.identity.traits.email).toBe(email);
    } finally {
      client.destroy();
    }
  });

  it('does not count the time the gateway takes to answer: a sign-up slower than request_timeout_ms succeeds', async () => {
    const email = uniqueEmail('slow-upstream');
    upstreamDelayMs = 400; // two Kratos calls (create + submit): past REQUEST_MS in total
    const started = Date.now();
    try {
      const res = await postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD });
      expect(res.status).toBe(200);
      expect(res.body.identity.traits.email).toBe(email);
    } finally {
      upstreamDelayMs = 0;
    }
    expect(Date.now() - started).toBeGreaterThan(REQUEST_MS);
  });

  it('closes an idle keep-alive connection after keep_alive_timeout_ms, without an answer', async () => {
    const client = await RawClient.open(gw.port);
    try {
      client.write('GET /health/alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      expect((await client.response(5000)).status).toBe(200);
      // Within the timeout the connection is reused.
      await new Promise((r) => setTimeout(r, KEEP_ALIVE_MS / 3));
      client.write('GET /health/alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const second = await client.response(5000);
      expect(second.status).toBe(200);
      expect(client.isClosed).toBe(false);
      const idleFrom = Date.now() - client.startedAt;
      const closedMs = await client.closed(KEEP_ALIVE_MS + NODE_KEEP_ALIVE_BUFFER_MS + TOLERANCE_MS);
      report(`idle keep-alive closed (keep_alive_timeout_ms ${KEEP_ALIVE_MS})`, closedMs - idleFrom);
      expect(closedMs - idleFrom).toBeGreaterThanOrEqual(KEEP_ALIVE_MS - EARLY_MS);
      expect(closedMs - idleFrom).toBeLessThan(KEEP_ALIVE_MS + NODE_KEEP_ALIVE_BUFFER_MS + TOLERANCE_MS);
      expect(client.unread).toBe(''); // an idle connection is closed silently, not with a 408
    } finally {
      client.destroy();
    }
  });
});

describe("Node's own HTTP errors are problem+json (Node)", () => {
  it.each([
    ['a bad request line', 'HELLO THERE\r\n\r\n'],
    ['a header line without a colon', 'GET /health/alive HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n'],
    ['a non-numeric Content-Length', 'POST /v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ten\r\n\r\n'],
  ])('answers %s with 400 MALFORMED_REQUEST and closes', async (_name, request) => {
    const client = await RawClient.open(gw.port);
    try {
      client.write(request);
      expectProblem(await client.response(TOLERANCE_MS), 400, 'MALFORMED_REQUEST');
      const closedMs = await client.closed(TOLERANCE_MS);
      report(`malformed request answered and closed (${_name})`, closedMs);
    } finally {
      client.destroy();
    }
    expect(gw.logs.some((l) => l.includes('"code":"MALFORMED_REQUEST"') && /"reason":"HPE_[A-Z_]+"/.test(l))).toBe(true);
  });

  it.each([
    ['20 KiB', 20 * 1024],
    // Under Node's own 16 KiB default: only server.max_header_bytes refuses it.
    ['12 KiB', 12 * 1024],
  ])('answers a %s header with 431 HEADERS_TOO_LARGE and closes', async (_name, size) => {
    const client = await RawClient.open(gw.port);
    try {
      client.write(`GET /health/alive HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(size)}\r\n\r\n`);
      expectProblem(await client.response(TOLERANCE_MS), 431, 'HEADERS_TOO_LARGE');
      await client.closed(TOLERANCE_MS);
    } finally {
      client.destroy();
    }
    expect(gw.logs.join('\n')).not.toContain('bbbbbbbb');
  });

  it.each([
    ['an HTTP/1.1 request without Host', 'GET /health/alive HTTP/1.1\r\nConnection: close\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    ['a backslash in the path', 'GET /health\\alive HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    ['a Host that is not a host', 'GET /health/alive HTTP/1.1\r\nHost: a b@c\r\nConnection: close\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    ['an Expect other than 100-continue', 'POST /v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: teapot\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}', 417, 'EXPECTATION_FAILED'],
  ])('answers %s in problem+json too', async (_name, request, status, code) => {
    const client = await RawClient.open(gw.port);
    try {
      client.write(request);
      const res = await client.response(TOLERANCE_MS);
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.body).toMatchObject({ status, code, request_id: expect.stringMatching(/^[0-9a-f-]{36}$/), errors: [] });
      expect(res.headers['x-request-id']).toBe(res.body.request_id);
    } finally {
      client.destroy();
    }
  });

  it('still serves headers under server.max_header_bytes', async () => {
    const res = await fetch(`${gw.url}/health/alive`, { headers: { 'x-big': 'c'.repeat(MAX_HEADER_BYTES / 2) } });
    expect(res.status).toBe(200);
  });
});

describe('defaults', () => {
  it('serves a normal sign-up through the real Kratos with the default limits', async () => {
    const defaults = await startTestGateway();
    try {
      const server = defaults.server as Server & { connectionsCheckingInterval: number; maxHeaderSize: number };
      expect({
        headers: server.headersTimeout,
        request: server.requestTimeout,
        keepAlive: server.keepAliveTimeout,
        check: server.connectionsCheckingInterval,
        maxHeader: server.maxHeaderSize,
      }).toEqual({ headers: 10_000, request: 20_000, keepAlive: 5_000, check: 1000, maxHeader: 16_384 });
      const email = uniqueEmail('defaults');
      const res = await postJson(`${defaults.url}/v1/registration`, { traits: { email }, password: PASSWORD });
      expect(res.status).toBe(200);
      expect(res.body.identity.traits.email).toBe(email);
      expect(await identitiesByEmail(defaults.kratos.adminUrl, email)).toHaveLength(1);
    } finally {
      await defaults.close();
    }
  });
});
