import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { connectionsCheckingIntervalFor, nodeServerOptions, rawProblemResponse } from '../../src/runtime/node-server-limits.ts';

const server = (limits: Record<string, number> = {}) =>
  parseConfig({ server: limits, kratos: { public_url: 'http://127.0.0.1:4433', admin_url: 'http://127.0.0.1:4434' } }).server;

describe('nodeServerOptions', () => {
  it('maps the server limits onto http.Server options', () => {
    expect(nodeServerOptions(server())).toEqual({
      headersTimeout: 10_000,
      requestTimeout: 20_000,
      keepAliveTimeout: 5_000,
      maxHeaderSize: 16_384,
      connectionsCheckingInterval: 1000,
      // Missing Host is answered in problem+json by createProblemServer, not by Node.
      requireHostHeader: false,
    });
  });

  it('checks for expired requests often enough to cut within the bound + 10% (at most 1 s late)', () => {
    expect(connectionsCheckingIntervalFor(server({ headers_timeout_ms: 120_000, request_timeout_ms: 300_000 }))).toBe(1000);
    expect(connectionsCheckingIntervalFor(server({ headers_timeout_ms: 2000, request_timeout_ms: 3000 }))).toBe(200);
    expect(connectionsCheckingIntervalFor(server({ headers_timeout_ms: 100, request_timeout_ms: 100 }))).toBe(50);
  });
});

describe('rawProblemResponse', () => {
  it('is a complete HTTP/1.1 answer with the app’s problem document', () => {
    const raw = rawProblemResponse(408, 'REQUEST_TIMEOUT', 'req-1');
    const [head, body] = raw.split('\r\n\r\n') as [string, string];
    expect(head.split('\r\n')).toEqual([
      'HTTP/1.1 408 Request Timeout',
      'Content-Type: application/problem+json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'X-Request-Id: req-1',
      'Cache-Control: no-store',
      'Connection: close',
    ]);
    expect(JSON.parse(body)).toEqual({
      type: 'urn:kratos-bff:problem:request-timeout',
      title: 'Request Timeout',
      status: 408,
      code: 'REQUEST_TIMEOUT',
      detail: 'The request was not received in time; the connection was closed. Send it again.',
      request_id: 'req-1',
      errors: [],
    });
  });
});
