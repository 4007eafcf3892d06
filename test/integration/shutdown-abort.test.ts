import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../scripts/kratos.ts';
import { buildNodeEntry } from '../../scripts/build.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { identitiesByEmail, postJson, startTestGateway, uniqueEmail } from '../support/gateway.ts';
import { startStandIn, type StandIn } from '../support/stand-in.ts';

// Issue 9, defect 2: a shutdown that outlasts its drain deadline must not cut sign-ups in
// half. The built Node entry (dist bundle) gets a real SIGTERM with sign-ups in flight.

const PASSWORD = 'correct-horse-battery-staple';
let standIn: StandIn;
let dir: string;
let bundle: string;

beforeAll(async () => {
  standIn = await startStandIn();
  standIn.on('/slow-after', () => ({ status: 200, delayMs: 3000 }));
  dir = mkdtempSync(join(tmpdir(), 'kbff-abort-'));
  bundle = join(dir, 'node.mjs');
  await buildNodeEntry(bundle);
});
afterAll(async () => {
  await standIn?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startBuiltGateway(name: string, adminUrl: string): Promise<{ child: ChildProcess; url: string; output: () => string; exited: Promise<number | null> }> {
  const port = await freePort();
  const configPath = join(dir, `${name}.yaml`);
  writeFileSync(
    configPath,
    stringify({
      server: { host: '127.0.0.1', port, shutdown_timeout_ms: 1500, shutdown_abort_grace_ms: 8000 },
      kratos: { public_url: inject('kratos').publicUrl, admin_url: adminUrl },
      registration: {
        services: [{ name: 'crm', stage: 'after', on_failure: 'rollback', retries: 0, timeout_ms: 10_000, http: { url: `${standIn.url}/slow-after`, body: { id: '{{identity.id}}' } } }],
      },
      // Rate limits would refuse these many sign-ups from one IP; they have their own tests (abuse*.test.ts).
      abuse: { enabled: false },
    }),
  );
  const child = spawn(process.execPath, [bundle, '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d));
  child.stderr!.on('data', (d: Buffer) => (output += d));
  await expect.poll(() => output.includes('"msg":"listening"'), { timeout: 15_000 }).toBe(true);
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited };
}

describe('SIGTERM past the drain deadline', () => {
  it('aborts 50 in-flight sign-ups, rolls each back, answers each 503, then exits 0', async () => {
    standIn.reset();
    standIn.on('/slow-after', () => ({ status: 200, delayMs: 3000 }));
    const gw = await startBuiltGateway('fifty', inject('kratos').adminUrl);
    try {
      const emails = Array.from({ length: 50 }, () => uniqueEmail('cut'));
      const answers = emails.map((email) => postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD }));
      // Every sign-up has its identity and is waiting in the 3 s after service.
      await expect.poll(() => standIn.arrivals('/slow-after'), { timeout: 20_000, interval: 50 }).toBe(50);
      gw.child.kill('SIGTERM');
      const killedAt = Date.now();
      const results = await Promise.all(answers);
      for (const res of results) {
        expect(res.status, JSON.stringify(res.body)).toBe(503);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(res.headers.get('retry-after')).toBe('1');
        expect(res.body.code).toBe('REQUEST_ABORTED');
      }
      expect(await gw.exited).toBe(0);
      // Cut at the 1.5 s deadline, not after the 3 s service.
      expect(Date.now() - killedAt).toBeLessThan(1500 + 2500);
      const left = (await Promise.all(emails.map((e) => identitiesByEmail(inject('kratos').adminUrl, e)))).flat();
      expect(left).toHaveLength(0);
      expect(gw.output()).toContain('"msg":"shutdown deadline reached; aborting in-flight requests"');
      expect(gw.output().match(/"msg":"sign-up rolled back"/g)).toHaveLength(50);
    } finally {
      gw.child.kill('SIGKILL');
    }
  });

  it('exits non-zero and logs the identity id when a rollback fails', async () => {
    standIn.reset();
    standIn.on('/slow-after', () => ({ status: 200, delayMs: 3000 }));
    let admin: FaultProxy | undefined;
    const adminUrl = inject('kratos').adminUrl;
    admin = await startFaultProxy(adminUrl);
    admin.rule = ({ method }) => (method === 'DELETE' ? { kind: 'fail', status: 500 } : undefined);
    const gw = await startBuiltGateway('broken-admin', admin.url);
    const email = uniqueEmail('stuck');
    try {
      const answer = postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD });
      await expect.poll(() => standIn.arrivals('/slow-after'), { timeout: 15_000, interval: 50 }).toBe(1);
      gw.child.kill('SIGTERM');
      const res = await answer;
      expect(res.status).toBe(500);
      expect(res.body.code).toBe('ROLLBACK_FAILED');
      expect(await gw.exited).toBe(1);
      const [left] = await identitiesByEmail(adminUrl, email);
      expect(left).toBeDefined();
      const failed = gw.output().split('\n').find((l) => l.includes('"msg":"ROLLBACK FAILED'));
      expect(failed).toContain(`"identity_id":"${left!.id}"`);
      await fetch(`${adminUrl}/admin/identities/${left!.id}`, { method: 'DELETE' });
    } finally {
      gw.child.kill('SIGKILL');
      await admin.close();
    }
  });
});

describe('a client that goes away', () => {
  it('stops its sign-up and rolls back the identity: no work outlives its socket', async () => {
    standIn.reset();
    standIn.on('/slow-after', () => ({ status: 200, delayMs: 3000 }));
    const gw = await startTestGateway({
      config: { registration: { services: [{ name: 'crm', stage: 'after', on_failure: 'continue', retries: 0, timeout_ms: 10_000, http: { url: `${standIn.url}/slow-after`, body: {} } }] } },
    });
    try {
      const email = uniqueEmail('gone');
      const client = new AbortController();
      const request = fetch(`${gw.url}/v1/registration`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ traits: { email }, password: PASSWORD }),
        signal: client.signal,
      }).catch((err: unknown) => err);
      await expect.poll(() => standIn.arrivals('/slow-after'), { timeout: 15_000, interval: 50 }).toBe(1);
      expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toHaveLength(1);
      client.abort();
      await request;
      // Even with on_failure: continue, an aborted sign-up is undone rather than left without its steps.
      await expect.poll(() => identitiesByEmail(gw.kratos.adminUrl, email), { timeout: 5000, interval: 100 }).toHaveLength(0);
      expect(gw.logs.some((l) => l.includes('"msg":"sign-up rolled back"') && l.includes('REQUEST_ABORTED'))).toBe(true);
    } finally {
      await gw.close();
    }
  });
});
