import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/**
 * Admission on Node (`server.concurrency_when_busy`): while the event loop is saturated, the
 * number of requests allowed to run at once shrinks toward `limit`; later requests wait, in
 * arrival order, before the app sees them, and start as running ones finish.
 *
 * Why: once the CPU is saturated, starting more requests does not answer more per second; each
 * one only waits longer in the event loop, and what it holds meanwhile (its context, promises,
 * upstream calls) outlives young-generation collections and is copied by each of them, then moved
 * to the old generation. A request that waits here holds only what Node made for it (the request,
 * the response, its socket), and its body stays unread. Measured at 200 concurrent sign-ups:
 * half the scavenge time and a smaller heap (README, "Memory"; BENCHMARKS.md, part 3).
 *
 * The allowance follows the load, sampled every `sampleMs`:
 * - a saturated sample (event-loop utilisation ≥ `busyAbove`): 90% of what runs, not below `limit`;
 * - a quiet sample with requests waiting: `limit` more than run now;
 * - a quiet sample with none waiting: unbounded (as at start).
 * So a process that is not saturated holds nothing, and a slow Kratos or service (requests that
 * wait on I/O, not on the CPU) never caps throughput at limit / latency: a fixed limit of 32 with
 * 2 s services would allow 16 sign-ups per second while the CPU idles. And one quiet sample in a
 * saturated stretch lets `limit` more in, not every waiting request at once.
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
  /** How many may run at once now (Infinity: no bound). */
  allowance(): number;
  /** Stops the load sampling, and opens as above. */
  close(): void;
}

export interface AdmissionOptions {
  /** What the allowance shrinks to while saturated, and grows by per quiet sample; 0: no admission at all. */
  limit: number;
  /**
   * Calls its listener once per sample: saturated or not. Default: event-loop utilisation ≥
   * `busyAbove` over the last `sampleMs` (a timer). Tests pass their own.
   */
  busy?: { onSample(listener: (busy: boolean) => void): () => void };
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
  let allowance = Infinity;
  let opened = false;
  // A FIFO without shifting an array: head index, compacted when drained.
  let queue: Waiting[] = [];
  let head = 0;

  const mayStart = () => running < allowance;
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
    if (opened) return;
    if (isBusy) allowance = Math.max(limit, Math.floor(Math.min(allowance, running) * 0.9));
    else if (head === queue.length) allowance = Infinity;
    else {
      allowance = Math.min(allowance, running) + limit;
      drain();
    }
  });

  return {
    admit(req, res, start) {
      if (head === queue.length && mayStart()) run(req, res, start);
      else queue.push({ req, res, start });
    },
    open() {
      opened = true;
      allowance = Infinity;
      drain();
    },
    running: () => running,
    waiting: () => queue.length - head,
    allowance: () => allowance,
    close() {
      stopWatching();
      this.open();
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
    allowance: () => Infinity,
    close() {},
  };
}

/**
 * Event-loop utilisation over the last `sampleMs`, sampled by an unref'd timer: busy at or above
 * `threshold`. Only sampled while someone listens (the admission of a running server).
 */
export function eventLoopBusy(threshold: number, sampleMs: number): NonNullable<AdmissionOptions['busy']> {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const listeners = new Set<(busy: boolean) => void>();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization >= threshold;
    last = now;
    for (const listener of listeners) listener(busy);
  }, sampleMs);
  timer.unref();
  return {
    onSample(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) clearInterval(timer);
      };
    },
  };
}
