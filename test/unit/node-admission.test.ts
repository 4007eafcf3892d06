import { EventEmitter } from 'node:events';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdmission, eventLoopBusy, type AdmissionOptions } from '../../src/runtime/node-admission.ts';
import { createProblemServer } from '../../src/runtime/node-server-limits.ts';
import { createLogger } from '../../src/shared/log.ts';

/** A busy signal the test sets; `sample()` is what the timer would do. */
function manualBusy(initial: boolean) {
  let busy = initial;
  const listeners = new Set<(b: boolean) => void>();
  return {
    signal: {
      now: () => busy,
      onSample: (l: (b: boolean) => void) => {
        listeners.add(l);
        return () => void listeners.delete(l);
      },
    } satisfies NonNullable<AdmissionOptions['busy']>,
    set(value: boolean) {
      busy = value;
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

describe('admission (server.concurrency_when_busy)', () => {
  it('starts every request at once while the event loop is not saturated', () => {
    const busy = manualBusy(false);
    const admission = createAdmission({ limit: 2, busy: busy.signal });
    const started: string[] = [];
    const start = (req: IncomingMessage) => void started.push((req as unknown as { name: string }).name);
    for (const name of ['a', 'b', 'c', 'd']) admission.admit(fakeRequest(name).req, fakeRequest(name).res, start);
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(admission.running()).toBe(4);
    expect(admission.waiting()).toBe(0);
  });

  it('while saturated runs at most `limit`; the others wait and start in arrival order as running ones finish', () => {
    const busy = manualBusy(true);
    const admission = createAdmission({ limit: 2, busy: busy.signal });
    const started: string[] = [];
    const start = (req: IncomingMessage) => void started.push((req as unknown as { name: string }).name);
    const reqs = ['a', 'b', 'c', 'd', 'e'].map(fakeRequest);
    for (const r of reqs) admission.admit(r.req, r.res, start);
    expect(started).toEqual(['a', 'b']);
    expect(admission.waiting()).toBe(3);
    reqs[1]!.finish();
    expect(started).toEqual(['a', 'b', 'c']);
    reqs[0]!.finish();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(admission.running()).toBe(2);
    expect(admission.waiting()).toBe(1);
    // A newcomer queues behind the one already waiting, even when a slot is free by then.
    reqs[2]!.finish();
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);
    const late = fakeRequest('f');
    admission.admit(late.req, late.res, start);
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(admission.waiting()).toBe(1);
  });

  it('starts all waiting requests once a sample finds the loop no longer saturated', () => {
    const busy = manualBusy(true);
    const admission = createAdmission({ limit: 1, busy: busy.signal });
    const started: string[] = [];
    const start = (req: IncomingMessage) => void started.push((req as unknown as { name: string }).name);
    for (const r of ['a', 'b', 'c'].map(fakeRequest)) admission.admit(r.req, r.res, start);
    expect(started).toEqual(['a']);
    busy.set(true);
    expect(started).toEqual(['a']);
    busy.set(false);
    expect(started).toEqual(['a', 'b', 'c']);
    expect(admission.waiting()).toBe(0);
    expect(admission.running()).toBe(3);
  });

  it('never starts a request whose client hung up while it waited, and frees its place', () => {
    const busy = manualBusy(true);
    const admission = createAdmission({ limit: 1, busy: busy.signal });
    const started: string[] = [];
    const start = (req: IncomingMessage) => void started.push((req as unknown as { name: string }).name);
    const [a, b, c] = ['a', 'b', 'c'].map(fakeRequest) as [ReturnType<typeof fakeRequest>, ReturnType<typeof fakeRequest>, ReturnType<typeof fakeRequest>];
    for (const r of [a, b, c]) admission.admit(r.req, r.res, start);
    b.hangUp();
    // Its 'close' is not a running request finishing: `a` still runs alone.
    expect(admission.running()).toBe(1);
    expect(started).toEqual(['a']);
    a.finish();
    expect(started).toEqual(['a', 'c']);
    expect(admission.running()).toBe(1);
    expect(admission.waiting()).toBe(0);
  });

  it('open() and close() start every waiting request and hold none afterwards (shutdown drains them)', () => {
    for (const end of ['open', 'close'] as const) {
      const busy = manualBusy(true);
      const admission = createAdmission({ limit: 1, busy: busy.signal });
      const started: string[] = [];
      const start = (req: IncomingMessage) => void started.push((req as unknown as { name: string }).name);
      for (const r of ['a', 'b', 'c'].map(fakeRequest)) admission.admit(r.req, r.res, start);
      admission[end]();
      expect(started, end).toEqual(['a', 'b', 'c']);
      const d = fakeRequest('d');
      admission.admit(d.req, d.res, start);
      expect(started, end).toEqual(['a', 'b', 'c', 'd']);
      if (end === 'close') expect(busy.listeners()).toBe(0);
    }
  });

  it('limit 0 holds nothing, even while saturated', () => {
    const busy = manualBusy(true);
    const admission = createAdmission({ limit: 0, busy: busy.signal });
    const started: string[] = [];
    const start = (req: IncomingMessage) => void started.push((req as unknown as { name: string }).name);
    const reqs = ['a', 'b', 'c'].map(fakeRequest);
    for (const r of reqs) admission.admit(r.req, r.res, start);
    expect(started).toEqual(['a', 'b', 'c']);
    expect(busy.listeners()).toBe(0);
    reqs[0]!.finish();
    expect(admission.running()).toBe(2);
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
      expect(busy.now()).toBe(true);
      // Idle: nothing to do for a few periods.
      await new Promise((r) => setTimeout(r, 250));
      await nextSample();
      expect(samples.at(-1)).toBe(false);
      expect(busy.now()).toBe(false);
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
    const busy = manualBusy(true);
    const admission = createAdmission({ limit: 2, busy: busy.signal });
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
