import { signalOf, type AbortLike } from './abort.ts';

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
  /** Cancels the call (shutdown deadline, client gone); the transport then throws `aborted`. */
  signal?: AbortLike | undefined;
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string;
}

export type HttpTransport = (req: HttpRequest) => Promise<HttpResponse>;

/** Thrown by a transport when no HTTP answer arrived (refused, reset, DNS, timeout, aborted). */
export class TransportError extends Error {
  /**
   * Whether the request may have reached the upstream: false only when the transport knows it
   * never did (connection refused, DNS). A write sent without an answer is an ambiguous outcome.
   */
  readonly sent: boolean;
  /** The caller's signal cancelled the call. */
  readonly aborted: boolean;
  constructor(
    message: string,
    readonly timedOut: boolean,
    options: { cause?: unknown; sent?: boolean; aborted?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransportError';
    this.sent = options.sent ?? false;
    this.aborted = options.aborted ?? false;
  }
}

/** The timeout and, if given, the caller's signal as one signal. */
export function deadlineSignal(timeoutMs: number, signal: AbortLike | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signalOf(signal), timeout]) : timeout;
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
        signal: deadlineSignal(req.timeoutMs, req.signal),
      });
    } catch (err) {
      if (req.signal?.aborted) throw new TransportError('upstream call aborted', false, { cause: err, sent: true, aborted: true });
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      // fetch does not say whether the request went out before it failed: assume it may have.
      throw new TransportError(timedOut ? 'upstream timed out' : 'upstream unreachable', timedOut, { cause: err, sent: true });
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
