/**
 * The HTTP layer the gateway talks to upstreams through. It is injected: undici pools on
 * Node (src/runtime/node-transport.ts), the global `fetch` on Workers, a Hono app's
 * `request` in unit tests. Deliberately smaller than `fetch`: no Request/Headers objects
 * on the hot path.
 */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** scheme://host:port, no trailing slash. */
  origin: string;
  /** Path and query, starting with "/". */
  path: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string;
}

export type HttpTransport = (req: HttpRequest) => Promise<HttpResponse>;

/** Thrown by a transport when no HTTP answer arrived (refused, reset, DNS, timeout). */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly timedOut: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransportError';
  }
}

type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** A transport over any fetch-like function (Workers' fetch, a Hono app's request). */
export function fetchTransport(fetchFn: FetchLike): HttpTransport {
  return async (req) => {
    let res: Response;
    try {
      res = await fetchFn(req.origin + req.path, {
        method: req.method,
        headers: req.headers,
        body: req.body ?? null,
        // A redirect from Kratos is an answer to map, never something to follow.
        redirect: 'manual',
        signal: AbortSignal.timeout(req.timeoutMs),
      });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new TransportError(timedOut ? 'upstream timed out' : 'upstream unreachable', timedOut, { cause: err });
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((value, key) => {
      headers[key] = value;
    });
    let body: string;
    try {
      body = await res.text();
    } catch (err) {
      throw new TransportError('upstream body failed', false, { cause: err });
    }
    return { status: res.status, headers, body };
  };
}
