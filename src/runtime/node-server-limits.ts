import type { ServerType } from '@hono/node-server';
import { randomUUID } from 'node:crypto';
import { getRequestListener } from '@hono/node-server';
import type { Admission } from './node-admission.ts';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { GatewayConfig } from '../config.ts';
import { AppError, toProblem, type RequestErrorCode } from '../errors.ts';
import type { Logger } from '../shared/log.ts';

/**
 * Slow and stuck clients on Node. Node's defaults let a client that trickles its headers hold
 * a socket for 60–90 s and one that stops short of its Content-Length for 300–330 s; the
 * `server.*` limits of the config replace them, and Node's own answers to a cut or an
 * unparseable request become problem+json like every other error.
 */

/** http.Server options that enforce `server.*_timeout_ms` and `server.max_header_bytes`. */
export function nodeServerOptions(server: GatewayConfig['server']): ServerOptions {
  return {
    headersTimeout: server.headers_timeout_ms,
    requestTimeout: server.request_timeout_ms,
    keepAliveTimeout: server.keep_alive_timeout_ms,
    maxHeaderSize: server.max_header_bytes,
    connectionsCheckingInterval: connectionsCheckingIntervalFor(server),
    // A request without Host reaches the request listener, which answers it in problem+json
    // (Node's own check would write an empty 400).
    requireHostHeader: false,
  };
}

/**
 * The node:http server for `serve({ createServer })`: @hono/node-server's listener, but a
 * request it cannot turn into a web Request (no or bad Host, backslash in the path, bad URL)
 * gets a problem+json 400 instead of an empty one; an `Expect` other than 100-continue a 417.
 */
export function createProblemServer(fetch: (req: Request) => Response | Promise<Response>, hostname: string, logger: Logger, admission?: Admission) {
  return (options: ServerOptions): Server => {
    const listener = getRequestListener(fetch, {
      hostname,
      errorHandler: (err) => {
        const requestId = randomUUID();
        // The error's message names only which check failed, never the request's content.
        logger.info('request refused before routing', { reason: err instanceof Error ? err.message.slice(0, 80) : 'unknown', request_id: requestId });
        return problemFetchResponse(400, 'MALFORMED_REQUEST', requestId);
      },
    });
    const server = createServer(options, (req, res) => {
      // HTTP/1.1 requires Host (RFC 9112 §3.2); Node's own check answers with an empty 400.
      if (req.httpVersion === '1.1' && req.headers.host === undefined) return writeProblem(res, 400, 'MALFORMED_REQUEST');
      if (admission) admission.admit(req, res, listener);
      else void listener(req, res);
    });
    server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => writeProblem(res, 417, 'EXPECTATION_FAILED'));
    return server;
  };
}

function writeProblem(res: ServerResponse, status: ContentfulStatusCode, code: RequestErrorCode): void {
  const requestId = randomUUID();
  const body = JSON.stringify(toProblem(new AppError(code), requestId));
  res.writeHead(status, {
    'Content-Type': 'application/problem+json',
    'Content-Length': String(new TextEncoder().encode(body).length),
    'X-Request-Id': requestId,
    'Cache-Control': 'no-store',
    Connection: 'close',
  });
  res.end(body);
}

function problemFetchResponse(status: ContentfulStatusCode, code: RequestErrorCode, requestId: string): Response {
  return new Response(JSON.stringify(toProblem(new AppError(code), requestId)), {
    status,
    headers: { 'content-type': 'application/problem+json', 'x-request-id': requestId, 'cache-control': 'no-store' },
  });
}

/**
 * Node only looks for expired requests every `connectionsCheckingInterval` (30 s by default),
 * so a 10 s headers timeout would cut anywhere between 10 and 40 s. A tenth of the shorter
 * timeout, between 50 ms and 1 s, keeps a cut within its bound + 10% (+ 1 s at most); the
 * check only walks connections that are mid-request, so it stays cheap.
 */
export function connectionsCheckingIntervalFor(server: GatewayConfig['server']): number {
  const shortest = Math.min(server.headers_timeout_ms, server.request_timeout_ms);
  return Math.min(1000, Math.max(50, Math.floor(shortest / 10)));
}

/** What Node's parser and timeout errors become (anything else unparseable is a 400). */
function problemFor(errorCode: string | undefined): { status: 400 | 408 | 413 | 431; code: RequestErrorCode } {
  switch (errorCode) {
    case 'ERR_HTTP_REQUEST_TIMEOUT': // headers_timeout_ms or request_timeout_ms ran out
      return { status: 408, code: 'REQUEST_TIMEOUT' };
    case 'HPE_HEADER_OVERFLOW': // over max_header_bytes (a long URL counts too)
      return { status: 431, code: 'HEADERS_TOO_LARGE' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE' };
    default:
      return { status: 400, code: 'MALFORMED_REQUEST' };
  }
}

// Error codes are Node's own constants; anything else is not logged (a client could shape it).
const nodeErrorCode = /^(HPE|ERR|E)[A-Z0-9_]{1,60}$/;

/** Bytes of a complete HTTP/1.1 problem+json answer that closes the connection. */
export function rawProblemResponse(status: ContentfulStatusCode, code: RequestErrorCode, requestId: string): string {
  const body = JSON.stringify(toProblem(new AppError(code), requestId));
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    'Content-Type: application/problem+json\r\n' +
    `Content-Length: ${new TextEncoder().encode(body).length}\r\n` +
    `X-Request-Id: ${requestId}\r\n` +
    'Cache-Control: no-store\r\n' +
    'Connection: close\r\n' +
    '\r\n' +
    body
  );
}

/** How long a cut socket may take to flush its answer before it is destroyed anyway. */
const flushGraceMs = 1000;

/**
 * Answers Node's own cuts (timeouts, headers too large, unparseable requests) with the same
 * problem+json as the app, then closes the socket. Without a `clientError` listener Node
 * writes an empty-bodied 400/408/431 itself.
 */
export function answerClientErrors(served: ServerType, logger: Logger): void {
  // serve() without a custom createServer builds a node:http Server.
  const server = served as Server;
  // The response in flight on each socket, so a cut never writes into an answer already begun.
  const inFlight = new WeakMap<Duplex, ServerResponse>();
  const cut = new WeakSet<Duplex>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => inFlight.set(req.socket, res));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const reason = typeof err.code === 'string' && nodeErrorCode.test(err.code) ? err.code : 'unknown';
    if (cut.has(socket)) {
      socket.destroy();
      return;
    }
    cut.add(socket);
    if (reason === 'ECONNRESET') {
      logger.debug('client connection reset');
      socket.destroy();
      return;
    }
    const { status, code } = problemFor(reason);
    const res = inFlight.get(socket);
    if (!socket.writable || (res !== undefined && res.headersSent && !res.writableEnded)) {
      // The client stopped reading, or half an answer is on the wire: nothing more can be said.
      logger.info('client cut', { status, code, reason, answered: false });
      socket.destroy();
      return;
    }
    const requestId = randomUUID();
    // Only Node's error code: the request line and headers may carry secrets.
    logger.info('client cut', { status, code, reason, request_id: requestId });
    const grace = setTimeout(() => socket.destroy(), flushGraceMs);
    grace.unref();
    socket.once('close', () => clearTimeout(grace));
    // end() sends the answer and a FIN; destroying once it is flushed stops the parser from
    // reading on (a slow client could otherwise still complete its request after the cut).
    socket.end(rawProblemResponse(status, code, requestId), () => socket.destroy());
  });
}
