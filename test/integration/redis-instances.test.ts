import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../scripts/kratos.ts';
import { startRedis, type RedisInstance } from '../../scripts/redis.ts';
import { allLogs, identitiesByEmail, postJson, registerSecret, uniqueEmail } from '../support/gateway.ts';
import { startStandIn, type StandIn } from '../support/stand-in.ts';

// "Many instances act as one": real gateway processes (the Node entry, as deployed) sharing one
// real redis-server (with a password, given by env in the URL), in front of the real Kratos.
const REDIS_PASSWORD = 'redis-pw-7f3a9c1e5b';
const IDEMPOTENCY_SECRET = 'shared-idempotency-secret-0123456789abcdef';
registerSecret(REDIS_PASSWORD, IDEMPOTENCY_SECRET);
const PASSWORD = 'correct-horse-battery-staple';

let redis: RedisInstance;
let standIn: StandIn;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  redis = await startRedis({ password: REDIS_PASSWORD });
  standIn = await startStandIn();
  dir = mkdtempSync(join(tmpdir(), 'kbff-redis-'));
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await standIn?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Proc {
  url: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

let configs = 0;
/** Writes a config (Redis URL and secret from env, as in production) and runs the Node entry with it. */
function spawnGateway(config: Record<string, unknown>, env: Record<string, string> = {}): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const path = join(dir, `gateway-${++configs}.yaml`);
  writeFileSync(path, stringify(config));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/runtime/node.ts', '--config', path], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, REDIS_URL: redis.url, IDEMPOTENCY_SECRET, ...env },
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

function redisConfig(port: number, extra: { services?: unknown[]; lease_ms?: number } = {}) {
  const kratos = inject('kratos');
  return {
    server: { host: '127.0.0.1', port, shutdown_timeout_ms: 1000 },
    kratos: { public_url: kratos.publicUrl, admin_url: kratos.adminUrl },
    registration: { services: extra.services ?? [] },
    idempotency: { secret: '${IDEMPOTENCY_SECRET}', ...(extra.lease_ms ? { lease_ms: extra.lease_ms } : {}) },
    state: { backend: 'redis', redis: { url: '${REDIS_URL}', key_prefix: `kbff-test-${configs}:` } },
    // Rate limits would refuse these many sign-ups from one IP; they have their own tests (abuse*.test.ts).
    abuse: { enabled: false },
  };
}

/** Starts `n` gateway processes with the same config (one key prefix), each on its own port. */
async function startGateways(n: number, extra: { services?: unknown[]; lease_ms?: number } = {}): Promise<Proc[]> {
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const prefix = `kbff-test-${Date.now()}-${configs}:`;
  const procs = ports.map((port) => {
    const config = redisConfig(port, extra);
    config.state.redis.key_prefix = prefix;
    return { ...spawnGateway(config), url: `http://127.0.0.1:${port}` };
  });
  await Promise.all(procs.map((p) => expect.poll(() => p.output().includes('"msg":"listening"'), { timeout: 20_000 }).toBe(true)));
  return procs;
}

const signUp = (url: string, email: string, key?: string) =>
  postJson(`${url}/v1/registration`, { traits: { email }, password: PASSWORD }, key ? { 'idempotency-key': key } : {});

describe('several gateway processes on one Redis', () => {
  it('50 concurrent sign-ups with one Idempotency-Key over 3 processes create exactly one identity', async () => {
    standIn.on('/after-slow', () => ({ status: 200, delayMs: 400 }));
    const gateways = await startGateways(3, { services: [{ name: 'slow_after', stage: 'after', retries: 0, http: { url: `${standIn.url}/after-slow`, body: {} } }] });
    const email = uniqueEmail('many');
    const key = `key-${email}`;
    // Spread over ~1.2 s, so some arrive while the first runs (≥ 400 ms) and some after it.
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => new Promise((r) => setTimeout(r, i * 25)).then(() => signUp(gateways[i % 3]!.url, email, key))),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 200 || s === 409), `statuses: ${statuses.join(',')}`).toBe(true);
    const ok = answers.filter((a) => a.status === 200);
    const conflicts = answers.filter((a) => a.status === 409);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((a) => a.body.identity.id)).size).toBe(1);
    // Exactly one ran: the others were replays (marked) or refused while it ran.
    expect(ok.filter((a) => a.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);
    for (const c of conflicts) expect(c.body.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    expect(conflicts.length).toBeGreaterThanOrEqual(1);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    console.log(`50 requests over 3 processes: ${ok.length} × 200 (${ok.length - 1} replays), ${conflicts.length} × 409`);
    const identities = await identitiesByEmail(inject('kratos').adminUrl, email);
    expect(identities).toHaveLength(1);
    expect(identities[0]!.id).toBe(ok[0]!.body.identity.id);
    expect(standIn.arrivals('/after-slow')).toBe(1);

    // Afterwards every process replays the same answer, and refuses a different body (422).
    for (const g of gateways) {
      const again = await signUp(g.url, email, key);
      expect(again.status).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body.identity.id).toBe(identities[0]!.id);
    }
    const other = await postJson(`${gateways[1]!.url}/v1/registration`, { traits: { email }, password: `${PASSWORD}-other` }, { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_MISMATCH');
  });

  it('a claim whose process was killed (-9) is refused until its lease ends, then taken over by exactly one', async () => {
    // The first sign-up holds its claim in a before service that never answers in time; later
    // attempts spend 800 ms there, so concurrent takeovers would overlap if two were let in.
    let holds = 0;
    standIn.on('/before-hold', () => ({ status: 200, delayMs: ++holds === 1 ? 60_000 : 800 }));
    const LEASE = 2000;
    const [a, b, c] = await startGateways(3, {
      lease_ms: LEASE,
      services: [{ name: 'hold', stage: 'before', retries: 0, timeout_ms: 70_000, http: { url: `${standIn.url}/before-hold`, body: {} } }],
    });
    const email = uniqueEmail('lease');
    const key = `key-${email}`;
    void signUp(a!.url, email, key).catch(() => {});
    await expect.poll(() => standIn.arrivals('/before-hold'), { timeout: 10_000 }).toBe(1);
    a!.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await a!.exited).toBe(null);

    // Within the lease: every other process refuses the key.
    const early = await signUp(b!.url, email, key);
    expect(Date.now() - killedAt).toBeLessThan(LEASE / 2);
    expect(early.status).toBe(409);
    expect(early.body.code).toBe('IDEMPOTENCY_KEY_IN_USE');

    // After the lease (plus one renewal interval the dead process may have just done): taken
    // over, by exactly one of 6 concurrent retries on two processes.
    await new Promise((r) => setTimeout(r, LEASE + 200 - (Date.now() - killedAt)));
    const retries = await Promise.all(Array.from({ length: 6 }, (_, i) => signUp((i % 2 ? b : c)!.url, email, key)));
    const ran = retries.filter((r) => r.status !== 409);
    expect(ran, `statuses ${retries.map((r) => r.status).join(',')}`).toHaveLength(1);
    expect(ran[0]!.status).toBe(200);
    expect(retries.filter((r) => r.status === 409)).toHaveLength(5);
    expect(standIn.arrivals('/before-hold')).toBe(2);
    expect(await identitiesByEmail(inject('kratos').adminUrl, email)).toHaveLength(1);
    const replay = await signUp(b!.url, email, key);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.identity.id).toBe(ran[0]!.body.identity.id);
  }, 60_000);

  it('Redis going away: keyed sign-ups answer 503 STATE_UNAVAILABLE and readiness names redis; both recover when it is back', async () => {
    const [g] = await startGateways(1);
    const ready = async () => {
      const res = await fetch(`${g!.url}/health/ready`);
      return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
    };
    expect(await ready()).toEqual({ status: 200, body: { status: 'ok', checks: { kratos: 'ok', redis: 'ok' } } });

    await redis.kill();
    const keyed = await signUp(g!.url, uniqueEmail('down'), `key-down-${Date.now()}`);
    expect(keyed.status).toBe(503);
    expect(keyed.body.code).toBe('STATE_UNAVAILABLE');
    expect(keyed.headers.get('retry-after')).toBe('2');
    expect(keyed.headers.get('content-type')).toBe('application/problem+json');
    expect(await ready()).toEqual({ status: 503, body: { status: 'unavailable', checks: { kratos: 'ok', redis: 'unavailable' } } });
    // Without a key nothing needs the shared store: sign-up works.
    const plainEmail = uniqueEmail('nokey');
    const plain = await signUp(g!.url, plainEmail);
    expect(plain.status).toBe(200);
    expect(plain.body.identity.traits.email).toBe(plainEmail);

    // Same port, same password, empty: the gateway reconnects by itself.
    await redis.restart();
    await expect.poll(async () => (await ready()).status, { timeout: 10_000, interval: 200 }).toBe(200);
    const email = uniqueEmail('back');
    const key = `key-back-${Date.now()}`;
    const first = await signUp(g!.url, email, key);
    expect(first.status).toBe(200);
    const replay = await signUp(g!.url, email, key);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.identity.id).toBe(first.body.identity.id);
    expect(g!.output()).toContain('"msg":"redis unavailable');
    expect(g!.output()).toContain('"msg":"redis available again"');
  });
});

describe('starting with state.backend: redis', () => {
  it('exits 1 naming state.redis.url (password hidden) when Redis cannot be reached', async () => {
    const port = await freePort();
    const deadRedis = await freePort();
    const started = spawnGateway(redisConfig(port), { REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${deadRedis}` });
    expect(await started.exited).toBe(1);
    expect(started.output()).toContain(`state.redis.url: cannot reach Redis at redis://:***@127.0.0.1:${deadRedis}`);
    expect(started.output()).not.toContain(REDIS_PASSWORD);
  });

  it('exits 2 naming idempotency.secret when it is missing', async () => {
    const config: Record<string, unknown> = { ...redisConfig(await freePort()), idempotency: {} };
    const started = spawnGateway(config);
    expect(await started.exited).toBe(2);
    expect(started.output()).toContain('idempotency.secret: is required when state.backend is redis');
  });
});
