import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { freePort } from '../../scripts/kratos.ts';
import { startRedis } from '../../scripts/redis.ts';
import { allLogs, postJson, uniqueEmail } from '../support/gateway.ts';
import { startStandIn, type StandIn } from '../support/stand-in.ts';

// Durable retry_later (state.backend: redis, BullMQ): real gateway and worker processes, the
// real redis-server of this run, the real Kratos, and a scripted external service.
const PASSWORD = 'correct-horse-battery-staple';
const IDEMPOTENCY_SECRET = 'durable-retry-secret-0123456789abcdef-xyz';

let standIn: StandIn;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  standIn = await startStandIn();
  dir = mkdtempSync(join(tmpdir(), 'kbff-durable-'));
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await standIn?.close();
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
function writeConfig(config: Record<string, unknown>): string {
  const path = join(dir, `gateway-${++files}.yaml`);
  writeFileSync(path, stringify(config));
  return path;
}

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs the kratos-bff bin (from source) with these arguments. */
function run(args: string[], redisUrl = inject('redis')): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/runtime/node-cli.ts', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, REDIS_URL: redisUrl, IDEMPOTENCY_SECRET },
  });
  children.push(child);
  let output = '';
  const collect = (d: Buffer) => {
    output += d;
    allLogs.push(...d.toString().split('\n').filter(Boolean));
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** `kratos-bff dead-letters --config … <args>`: its output, after checking it exited 0. */
async function deadLetters(configPath: string, ...args: string[]): Promise<string> {
  const p = run(['dead-letters', '--config', configPath, ...args]);
  const code = await p.exited;
  expect(code, p.output()).toBe(0);
  return p.output();
}

async function startGateway(configPath: string, redisUrl?: string): Promise<Proc> {
  const p = run(['--config', configPath], redisUrl);
  await expect.poll(() => p.output().includes('"msg":"listening"') || p.child.exitCode !== null, { timeout: 20_000 }).toBe(true);
  expect(p.child.exitCode, p.output()).toBe(null);
  return p;
}

function durableConfig(port: number, path: string, retryLater: Record<string, number>, workers = true) {
  const kratos = inject('kratos');
  return {
    server: { host: '127.0.0.1', port, shutdown_timeout_ms: 1000 },
    kratos: { public_url: kratos.publicUrl, admin_url: kratos.adminUrl },
    registration: {
      services: [
        { name: 'crm', stage: 'after', on_failure: 'retry_later', retries: 0, timeout_ms: 2000, http: { url: `${standIn.url}${path}`, body: { identity_id: '{{identity.id}}', email: '{{traits.email}}' } } },
      ],
      retry_later: retryLater,
    },
    idempotency: { secret: '${IDEMPOTENCY_SECRET}' },
    state: { backend: 'redis', redis: { url: '${REDIS_URL}', key_prefix: `kbff-durable-${Date.now()}-${files}:`, workers } },
    // Rate limits would refuse these many sign-ups from one IP; they have their own tests (abuse*.test.ts).
    abuse: { enabled: false },
  };
}

/** A service that fails (500) until `recover()`, and records the calls it answered 200. */
function scriptedService(path: string) {
  let failing = true;
  const successes: Array<Record<string, string>> = [];
  standIn.on(path, ({ headers }) => {
    if (failing) return { status: 500, body: { error: 'down' } };
    successes.push(headers);
    return { status: 200, body: {} };
  });
  return { successes, recover: () => void (failing = false) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('durable retry_later on Redis (BullMQ)', () => {
  it('a job accepted by a process killed with -9 is delivered exactly once by another process', async () => {
    const service = scriptedService('/crm-crash');
    // The first retry waits 1.5–3 s: the job is still delayed (not running) when A is killed.
    const config = durableConfig(await freePort(), '/crm-crash', { max_attempts: 5, base_delay_ms: 3000, max_delay_ms: 3000 });
    const path = writeConfig(config);
    const a = await startGateway(path);
    const email = uniqueEmail('durable');
    const key = `key-${email}`;
    const res = await postJson(`http://127.0.0.1:${config.server.port}/v1/registration`, { traits: { email }, password: PASSWORD }, { 'idempotency-key': key });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    a.child.kill('SIGKILL');
    expect(res.body.services).toEqual([{ service: 'crm', outcome: 'retrying' }]);
    expect(await a.exited).toBe(null);
    expect(standIn.arrivals('/crm-crash')).toBe(1);
    // The stored job carries the sign-up's key and the context, never the password.
    const redis = new Redis(inject('redis'));
    try {
      const prefix = (config.state as { redis: { key_prefix: string } }).redis.key_prefix;
      const keys = await redis.keys(`${prefix}bull:*`);
      const hashes = (await Promise.all(keys.map(async (k) => ((await redis.type(k)) === 'hash' ? JSON.stringify(await redis.hgetall(k)) : '')))).join('\n');
      expect(hashes).toContain(key);
      expect(hashes).toContain(email);
      expect(hashes).not.toContain(PASSWORD);
    } finally {
      redis.disconnect();
    }

    service.recover();
    // B: another port, same config otherwise (same Redis, same key prefix).
    writeFileSync(path, stringify({ ...config, server: { ...config.server, port: await freePort() } }));
    const b = await startGateway(path);
    await expect.poll(() => service.successes.length, { timeout: 15_000, interval: 100 }).toBeGreaterThanOrEqual(1);
    // Nothing else is coming: one delivery, with the sign-up's key.
    await sleep(1500);
    expect(service.successes).toHaveLength(1);
    expect(service.successes[0]!['idempotency-key']).toBe(key);
    expect(standIn.arrivals('/crm-crash')).toBe(2);
    expect(standIn.callsTo('/crm-crash').at(-1)!.body).toEqual({ identity_id: res.body.identity.id, email });
    expect(b.output()).toContain('"msg":"retried service succeeded"');
    expect(await deadLetters(path, 'list')).toContain('0 dead-lettered job(s)');
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  }, 60_000);

  it('a job out of attempts lands in the dead-letter set, is listed, and is delivered once when redriven (worker process)', async () => {
    const service = scriptedService('/crm-dead');
    // The gateway runs no worker; a separate `kratos-bff worker` process does.
    const config = durableConfig(await freePort(), '/crm-dead', { max_attempts: 3, base_delay_ms: 100, max_delay_ms: 400 }, false);
    const path = writeConfig(config);
    const gateway = await startGateway(path);
    const worker = run(['worker', '--config', path]);
    await expect.poll(() => worker.output().includes('"msg":"retry worker running"') || worker.child.exitCode !== null, { timeout: 20_000 }).toBe(true);
    expect(worker.child.exitCode, worker.output()).toBe(null);

    const email = uniqueEmail('dead');
    const key = `key-${email}`;
    const res = await postJson(`http://127.0.0.1:${config.server.port}/v1/registration`, { traits: { email }, password: PASSWORD }, { 'idempotency-key': key });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.services).toEqual([{ service: 'crm', outcome: 'retrying' }]);

    // 3 attempts in all: the sign-up's, then two from the queue; then it gives up.
    await expect.poll(() => worker.output().includes('job is in the dead-letter set'), { timeout: 15_000, interval: 100 }).toBe(true);
    expect(standIn.arrivals('/crm-dead')).toBe(3);
    expect(gateway.output()).not.toContain('retried service failed');
    const listed = await deadLetters(path, 'list');
    expect(listed).toContain('1 dead-lettered job(s)');
    const line = listed.split('\n').find((l) => l.startsWith('rl-'))!;
    expect(line).toContain('service=crm');
    expect(line).toContain(`identity=${res.body.identity.id}`);
    expect(line).toContain('attempts=3');
    expect(line).toContain('500');
    // Nothing of the sign-up beyond the service and identity id.
    expect(listed).not.toContain(email);
    expect(listed).not.toContain(key);
    const jobId = line.split('\t')[0]!;

    service.recover();
    const redriven = await deadLetters(path, 'redrive', jobId);
    expect(redriven).toContain('1 job(s) redriven');
    await expect.poll(() => service.successes.length, { timeout: 10_000, interval: 100 }).toBeGreaterThanOrEqual(1);
    await sleep(1000);
    expect(service.successes).toHaveLength(1);
    expect(service.successes[0]!['idempotency-key']).toBe(key);
    expect(await deadLetters(path, 'list')).toContain('0 dead-lettered job(s)');

    worker.child.kill('SIGTERM');
    gateway.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(await gateway.exited).toBe(0);
  }, 60_000);

  it('while Redis is away a failed retry_later service is reported failed, not lost silently; queuing resumes when it is back', async () => {
    const own = await startRedis();
    try {
      scriptedService('/crm-redis-down');
      const config = durableConfig(await freePort(), '/crm-redis-down', { max_attempts: 3, base_delay_ms: 5000, max_delay_ms: 5000 });
      const gateway = await startGateway(writeConfig(config), own.url);
      const url = `http://127.0.0.1:${config.server.port}/v1/registration`;
      await own.kill();
      const down = await postJson(url, { traits: { email: uniqueEmail('rdown') }, password: PASSWORD });
      expect(down.status, JSON.stringify(down.body)).toBe(200);
      expect(down.body.services).toEqual([{ service: 'crm', outcome: 'failed' }]);
      expect(gateway.output()).toContain('"msg":"could not queue a retry_later service"');

      await own.restart();
      await expect
        .poll(async () => (await postJson(url, { traits: { email: uniqueEmail('rback') }, password: PASSWORD })).body.services?.[0]?.outcome, { timeout: 10_000, interval: 300 })
        .toBe('retrying');
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
    } finally {
      await own.stop();
    }
  }, 60_000);
});
