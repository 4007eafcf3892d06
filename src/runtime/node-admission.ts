import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/**
 * Admission on Node (`server.concurrency_when_busy`): while the event loop is saturated, at most
 * `limit` requests run at once; later ones wait, in arrival order, before the app sees them, and
 * start as running ones finish. While it is not saturated, every request starts at once.
 *
 * Why: once the CPU is saturated, starting more requests does not answer more per second; each
 * one only waits longer in the event loop, and what it holds meanwhile (its context, promises,
 * upstream calls) outlives young-generation collections and is copied by each of them, then moved
 * to the old generation. A request that waits here holds only what Node made for it (the request,
 * the response, its socket), and the body stays unread. Measured at 200 concurrent sign-ups:
 * half the scavenge time and a smaller heap (README, "Memory"; BENCHMARKS.md, part 3).
 *
 * Only when saturated: a fixed limit would cap throughput at limit / latency whenever Kratos or a
 * service is slow (32 requests of 2 s each: 16 per second), while the CPU idles.
 */
export interface Admission {
  /** Calls `start` now, or once the request's turn comes; never for a client that left meanwhile. */
  admit(req: IncomingMessage, res: ServerResponse, start: Start): void;
  /** Starts every waiting request and holds none from now on (shutdown drains them with the rest). */
  open(): void;
  /** Requests started and not finished. */
  running(): number;
  /** Requests waiting for their turn. */
  waiting(): number;
  /** Stops the load sampling (and opens, as above). */
  close(): void;
}

export interface AdmissionOptions {
  /** Requests that run at once while busy; 0: no limit (every request starts at once). */
  limit: number;
  /**
   * Whether the process is saturated now; default: event-loop utilisation ≥ `busyAbove` over the
   * last `sampleMs` (sampled by a timer). Tests pass their own.
   */
  busy?: { now(): boolean; onSample(listener: (busy: boolean) => void): () => void };
  busyAbove?: number;
  sampleMs?: number;
}

/** What admitting a request does: @hono/node-server's listener. */
type Start = (req: IncomingMessage, res: ServerResponse) => unknown;

interface Waiting {
  req: IncomingMessage;
  res: ServerResponse;
  start: Start;
}

export function createAdmission(options: AdmissionOptions): Admission {
  const { limit } = options;
  if (limit === 0) return unlimited();
  const busy = options.busy ?? eventLoopBusy(options.busyAbove ?? 0.9, options.sampleMs ?? 100);
  let running = 0;
  let opened = false;
  // A FIFO without shifting an array: head index, compacted when drained.
  let queue: Waiting[] = [];
  let head = 0;

  const mayStart = () => opened || running < limit || !busy.now();
  const run = (req: IncomingMessage, res: ServerResponse, start: Start) => {
    running++;
    // 'close' comes once per response: after it is written, or when its client is gone.
    res.on('close', finished);
    start(req, res);
  };
  const drain = () => {
    while (head < queue.length && mayStart()) {
      const next = queue[head]!;
      queue[head++] = undefined as unknown as Waiting;
      // A client that hung up while waiting: nothing to answer, nothing to start.
      if (next.req.socket.destroyed || next.res.destroyed) continue;
      run(next.req, next.res, next.start);
    }
    if (head === queue.length) {
      queue = [];
      head = 0;
    }
  };
  function finished() {
    running--;
    if (head < queue.length) drain();
  }
  const stopWatching = busy.onSample((isBusy) => {
    if (!isBusy) drain();
  });

  return {
    admit(req, res, start) {
      if (head === queue.length && mayStart()) run(req, res, start);
      else queue.push({ req, res, start });
    },
    open() {
      opened = true;
      drain();
    },
    running: () => running,
    waiting: () => queue.length - head,
    close() {
      stopWatching();
      opened = true;
      drain();
    },
  };
}

/** `limit: 0`: every request starts at once, and nothing is sampled. */
function unlimited(): Admission {
  let running = 0;
  const finished = () => void running--;
  return {
    admit(req, res, start) {
      running++;
      res.on('close', finished);
      start(req, res);
    },
    open() {},
    running: () => running,
    waiting: () => 0,
    close() {},
  };
}

/**
 * Event-loop utilisation over the last `sampleMs`, sampled by an unref'd timer: busy at or above
 * `threshold`. Only sampled while someone listens (the admission of a running server).
 */
export function eventLoopBusy(threshold: number, sampleMs: number): NonNullable<AdmissionOptions['busy']> {
  let busy = false;
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const listeners = new Set<(busy: boolean) => void>();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    busy = performance.eventLoopUtilization(now, last).utilization >= threshold;
    last = now;
    for (const listener of listeners) listener(busy);
  }, sampleMs);
  timer.unref();
  return {
    now: () => busy,
    onSample(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) clearInterval(timer);
      };
    },
  };
}
