import { EventEmitter } from 'node:events';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdmission, eventLoopBusy, type AdmissionOptions } from '../../src/runtime/node-admission.ts';
import { createProblemServer } from '../../src/runtime/node-server-limits.ts';
import { createLogger } from '../../src/shared/log.ts';

/** Samples the test takes: `sample(true)` is a saturated 100 ms, `sample(false)` a quiet one. */
function manualSamples() {
  const listeners = new Set<(b: boolean) => void>();
  return {
    signal: {
      onSample: (l: (b: boolean) => void) => {
        listeners.add(l);
        return () => void listeners.delete(l);
      },
    } satisfies NonNullable<AdmissionOptions['busy']>,
    sample(busy: boolean) {
      for (const l of listeners) l(busy);
    },
    listeners: () => listeners.size,
  };
}

/** Just what admission reads of a request and its response. */
function fakeRequest(name: string) {
  const res = Object.assign(new EventEmitter(), { destroyed: false, name });
  const req = { socket: { destroyed: false }, name };
  return {
    req: req as unknown as IncomingMessage,
    res: res as unknown as ServerResponse,
    finish: () => res.emit('close'),
    hangUp: () => {
      req.socket.destroyed = true;
      res.destroyed = true;
      res.emit('close');
    },
  };
}

type Fake = ReturnType<typeof fakeRequest>;

function setUp(limit: number) {
  const samples = manualSamples();
  const admission = createAdmission({ limit, busy: samples.signal });
  const started: string[] = [];
  const start = (req: IncomingMessage) => void started.push((req as unknown as { name: string }).name);
  const all = new Map<string, Fake>();
  const admit = (...names: string[]) => {
    for (const name of names) {
      const r = fakeRequest(name);
      all.set(name, r);
      admission.admit(r.req, r.res, start);
    }
  };
  const finish = (...names: string[]) => names.forEach((n) => all.get(n)!.finish());
  return { samples, admission, started, admit, finish, all };
}

const names = (n: number, prefix = 'r') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('admission (server.concurrency_when_busy)', () => {
  it('holds nothing before the loop is found saturated, or while it is quiet', () => {
    const { samples, admission, started, admit } = setUp(2);
    admit(...names(10));
    expect(started).toHaveLength(10);
    samples.sample(false);
    admit('late');
    expect(started).toHaveLength(11);
    expect(admission.waiting()).toBe(0);
    expect(admission.allowance()).toBe(Infinity);
  });

  it('while saturated shrinks the allowance by 10% of what runs per sample, down to the limit; later requests wait in arrival order', () => {
    const { samples, admission, started, admit, finish } = setUp(2);
    admit(...names(10));
    samples.sample(true);
    expect(admission.allowance()).toBe(9);
    admit('a', 'b');
    expect(started).toHaveLength(10);
    expect(admission.waiting()).toBe(2);
    // 10 → 9 running: still not below the allowance of 9.
    finish('r0');
    expect(started).toHaveLength(10);
    finish('r1');
    expect(started.at(-1)).toBe('a');
    // Saturated samples in a row: 90% of what runs each time, never below the limit.
    for (let i = 0; i < 30; i++) samples.sample(true);
    expect(admission.allowance()).toBe(2);
    finish('r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8');
    // 2 running (r9, a): b still waits.
    expect(admission.running()).toBe(2);
    expect(started.at(-1)).toBe('a');
    finish('r9');
    expect(started.at(-1)).toBe('b');
    // A newcomer queues behind one already waiting, even if a place is free by then.
    admit('c', 'd');
    finish('a');
    expect(started.slice(-2)).toEqual(['b', 'c']);
    expect(admission.waiting()).toBe(1);
  });

  it('a quiet sample while requests wait lets `limit` more run than run now, not all at once; a quiet one with none waiting holds nothing', () => {
    const { samples, admission, started, admit } = setUp(3);
    admit(...names(3));
    for (let i = 0; i < 5; i++) samples.sample(true);
    admit(...names(10, 'w'));
    expect(started).toHaveLength(3);
    samples.sample(false);
    expect(admission.allowance()).toBe(6);
    expect(started.slice(3)).toEqual(['w0', 'w1', 'w2']);
    samples.sample(false);
    expect(started.slice(3)).toEqual(['w0', 'w1', 'w2', 'w3', 'w4', 'w5']);
    samples.sample(true);
    // 9 run: 90% of them.
    expect(admission.allowance()).toBe(8);
    samples.sample(false);
    samples.sample(false);
    expect(admission.waiting()).toBe(0);
    expect(started).toHaveLength(13);
    samples.sample(false);
    expect(admission.allowance()).toBe(Infinity);
  });

  it('never starts a request whose client hung up while it waited, and frees its place', () => {
    const { samples, admission, started, admit, finish, all } = setUp(1);
    admit('a');
    samples.sample(true);
    admit('b', 'c');
    all.get('b')!.hangUp();
    // Its 'close' is not a running request finishing: `a` still runs alone.
    expect(admission.running()).toBe(1);
    expect(started).toEqual(['a']);
    finish('a');
    expect(started).toEqual(['a', 'c']);
    expect(admission.running()).toBe(1);
    expect(admission.waiting()).toBe(0);
  });

  it('open() and close() start every waiting request and hold none afterwards (shutdown drains them)', () => {
    for (const end of ['open', 'close'] as const) {
      const { samples, admission, started, admit } = setUp(1);
      admit('a');
      samples.sample(true);
      admit('b', 'c');
      expect(started, end).toEqual(['a']);
      admission[end]();
      expect(started, end).toEqual(['a', 'b', 'c']);
      samples.sample(true);
      admit('d');
      expect(started, end).toEqual(['a', 'b', 'c', 'd']);
      if (end === 'close') expect(samples.listeners()).toBe(0);
    }
  });

  it('limit 0 holds nothing, even while saturated, and samples nothing', () => {
    const { samples, admission, started, admit, finish } = setUp(0);
    admit('a', 'b', 'c');
    samples.sample(true);
    admit('d');
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(samples.listeners()).toBe(0);
    finish('a');
    expect(admission.running()).toBe(3);
  });
});

describe('eventLoopBusy', () => {
  it('reports a saturated event loop, and an idle one', async () => {
    const busy = eventLoopBusy(0.9, 50);
    const samples: boolean[] = [];
    let onNext: (() => void) | undefined;
    const nextSample = () => new Promise<void>((r) => (onNext = r));
    const stop = busy.onSample((b) => {
      samples.push(b);
      onNext?.();
    });
    try {
      // Saturated: the loop spins without a pause for a few sample periods.
      await nextSample();
      const until = performance.now() + 300;
      while (performance.now() < until) Math.sqrt(Math.random());
      await nextSample();
      expect(samples.at(-1)).toBe(true);
      // Idle: nothing to do for a few periods.
      await new Promise((r) => setTimeout(r, 250));
      await nextSample();
      expect(samples.at(-1)).toBe(false);
    } finally {
      stop();
    }
  });
});

describe('admission in front of the Node listener', () => {
  const servers: Array<{ close(): void }> = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  it('holds requests past the limit unread, answers all of them, and never runs one whose client left', async () => {
    const samples = manualSamples();
    const admission = createAdmission({ limit: 2, busy: samples.signal });
    samples.sample(true);
    const seen: string[] = [];
    const releases: Array<() => void> = [];
    const fetch = async (req: Request) => {
      const body = await req.text();
      seen.push(body);
      await new Promise<void>((r) => releases.push(r));
      return new Response(`done ${body}`);
    };
    const server = createProblemServer(fetch, '127.0.0.1', createLogger({ level: 'error' }), admission)({});
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const send = (body: string) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, headers: { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) } });
      const answer = new Promise<string>((resolve, reject) => {
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve(`${res.statusCode} ${text}`));
        });
        req.on('error', reject);
      });
      req.end(body);
      return { req, answer };
    };
    const until = async (check: () => boolean) => {
      for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
      expect(check()).toBe(true);
    };
    const first = [send('1'), send('2')];
    await until(() => seen.length === 2);
    const third = send('3');
    const gone = send('gone');
    const fifth = send('5');
    await until(() => admission.waiting() === 3);
    expect(seen).toEqual(['1', '2']);
    gone.answer.catch(() => {});
    gone.req.destroy();
    await new Promise((r) => setTimeout(r, 50));
    releases.shift()!();
    await until(() => seen.length === 3);
    releases.shift()!();
    await until(() => seen.length === 4);
    expect(seen).toEqual(['1', '2', '3', '5']);
    for (const r of releases.splice(0)) r();
    expect(await Promise.all([...first, third, fifth].map((s) => s.answer))).toEqual(['200 done 1', '200 done 2', '200 done 3', '200 done 5']);
    await until(() => admission.running() === 0);
    expect(admission.waiting()).toBe(0);
  });
});
