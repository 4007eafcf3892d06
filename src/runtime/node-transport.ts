import { errors, Pool, type Dispatcher } from 'undici';
import { TransportError, type HttpResponse, type HttpTransport } from '../shared/http.ts';
import type { AbortLike } from '../shared/abort.ts';

export interface UndiciTransportOptions {
  /** Sockets per upstream origin. */
  connections?: number;
  /** How long an idle keep-alive socket is kept. */
  keepAliveTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export interface ClosableTransport {
  transport: HttpTransport;
  close(): Promise<void>;
  /**
   * Cuts every call in flight to any origin but `keep` (their callers see an aborted call if
   * their signal is aborted). Used at the shutdown deadline; later calls get fresh pools.
   */
  abortAllExcept(keep: readonly string[]): void;
}

const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** False only when the socket never connected, so the upstream cannot have seen the request. */
function mayHaveBeenSent(err: unknown): boolean {
  if (err instanceof errors.ConnectTimeoutError) return false;
  const code = (err as { code?: unknown } | null)?.code ?? (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return !(typeof code === 'string' && NOT_CONNECTED.has(code));
}

/** What a failed call becomes: aborted by the caller, timed out, or unreachable. */
function transportError(signal: AbortLike | undefined, err: unknown): TransportError {
  if (signal?.aborted) return new TransportError('upstream call aborted', false, { cause: err, sent: true, aborted: true });
  const timedOut =
    err instanceof errors.HeadersTimeoutError ||
    err instanceof errors.BodyTimeoutError ||
    err instanceof errors.ConnectTimeoutError ||
    (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'));
  return new TransportError(timedOut ? 'upstream timed out' : 'upstream unreachable', timedOut, { cause: err, sent: mayHaveBeenSent(err) });
}

/**
 * undici checks its header and body timeouts on a coarse clock (about a second), so a shorter
 * timeout could run up to a second late. Calls with a timeout below this get a timer of their
 * own; the default timeouts (5 s for services, 10 s for Kratos) need none, and the hot path
 * stays free of a timer per call.
 */
const PRECISE_TIMEOUT_BELOW_MS = 2_000;

/**
 * A `dispatch` handler that collects the answer: the same pool, keep-alive and timers as
 * `pool.request()`, without a BodyReadable stream and its consumer per response (issue 16:
 * measured in BENCHMARKS.md). A class, so a call allocates one object rather than five closures.
 */
class Collector implements Dispatcher.DispatchHandler {
  private readonly chunks: Buffer[] = [];
  private status = 0;
  private received: Record<string, string | string[] | undefined> = {};
  private controller: Dispatcher.DispatchController | undefined;
  private expired: Error | undefined;
  private readonly timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    timeoutMs: number,
    private readonly resolve: (res: HttpResponse) => void,
    private readonly fail: (err: unknown) => void,
  ) {
    if (timeoutMs < PRECISE_TIMEOUT_BELOW_MS) {
      this.timer = setTimeout(() => {
        this.expired = new errors.HeadersTimeoutError(`no answer within ${timeoutMs} ms`);
        this.controller?.abort(this.expired);
      }, timeoutMs);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Waited for a free connection longer than the whole timeout.
    if (this.expired) controller.abort(this.expired);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // 1xx informational answers come before the real one.
    if (statusCode < 200) return;
    this.status = statusCode;
    this.received = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    clearTimeout(this.timer);
    // undici's own object (lower-case names, made for this answer): repeated headers joined in place.
    const headers = this.received;
    for (const name in headers) {
      const v = headers[name];
      if (Array.isArray(v)) headers[name] = v.join(', ');
      else if (v === undefined) delete headers[name];
    }
    const { chunks } = this;
    const body = chunks.length === 0 ? '' : (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
    this.resolve({ status: this.status, headers: headers as Record<string, string>, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    clearTimeout(this.timer);
    this.fail(err);
  }
}

/**
 * Node transport: one undici Pool per upstream origin, with keep-alive. A proxy hop through
 * a Pool measured 4–5x faster here than global fetch or axios.
 */
export function createUndiciTransport(options: UndiciTransportOptions = {}): ClosableTransport {
  const pools = new Map<string, Pool>();
  const poolFor = (origin: string): Pool => {
    let pool = pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: options.connections ?? 64,
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
        connect: { timeout: options.connectTimeoutMs ?? 3_000 },
      });
      pools.set(origin, pool);
    }
    return pool;
  };

  const transport: HttpTransport = (req) =>
    new Promise((resolve, reject) => {
      const options: Dispatcher.DispatchOptions = {
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body ?? null,
        // undici's own timers; a per-request AbortSignal.timeout costs a timer and a signal
        // on every call (a hot spot in the benchmark) and adds nothing these two do not cover.
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
        // No `signal` either: undici's abort listener per call cost ~12% of the pipeline
        // benchmark's throughput. Calls are cut by `abortAllExcept` at the shutdown deadline
        // instead, and a request whose client left stops at its next step.
      };
      const fail = (err: unknown) => reject(transportError(req.signal, err));
      try {
        poolFor(req.origin).dispatch(options, new Collector(req.timeoutMs, resolve, fail));
      } catch (err) {
        // A closed pool or a request undici refuses may throw instead of calling onResponseError.
        fail(err);
      }
    });

  return {
    transport,
    close: async () => {
      await Promise.all([...pools.values()].map((p) => p.close()));
      pools.clear();
    },
    abortAllExcept: (keep) => {
      for (const [origin, pool] of pools) {
        if (keep.includes(origin)) continue;
        pools.delete(origin);
        void pool.destroy(new Error('the gateway is shutting down')).catch(() => {});
      }
    },
  };
}
