import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../scripts/kratos.ts';
import { identitiesByEmail, postJson, uniqueEmail } from '../support/gateway.ts';
import { startStandIn, type StandIn } from '../support/stand-in.ts';

// The real Node entry (`src/runtime/node.ts --config …`) as its own process: it must finish
// in-flight sign-ups on SIGTERM, refuse new connections, and exit 0.
let standIn: StandIn;
let dir: string;

beforeAll(async () => {
  standIn = await startStandIn();
  standIn.on('/slow', () => ({ status: 200, delayMs: 1200 }));
  dir = mkdtempSync(join(tmpdir(), 'kbff-shutdown-'));
});
afterAll(async () => {
  await standIn?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Node entry', () => {
  it('drains an in-flight sign-up on SIGTERM, then exits 0', async () => {
    const kratos = inject('kratos');
    const port = await freePort();
    const configPath = join(dir, 'gateway.yaml');
    writeFileSync(
      configPath,
      stringify({
        server: { host: '127.0.0.1', port, shutdown_timeout_ms: 5000 },
        kratos: { public_url: kratos.publicUrl, admin_url: kratos.adminUrl },
        registration: { services: [{ name: 'slow_check', stage: 'before', retries: 0, http: { url: `${standIn.url}/slow`, body: {} } }] },
      }),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/runtime/node.ts', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    try {
      await expect.poll(() => output.includes('"msg":"listening"'), { timeout: 15_000 }).toBe(true);
      const url = `http://127.0.0.1:${port}`;
      const email = uniqueEmail('drain');
      const inFlight = postJson(`${url}/v1/registration`, { traits: { email }, password: 'correct-horse-battery-staple' });
      // The stand-in records a call when it answers, so wait a moment for the request to be in flight.
      await new Promise((r) => setTimeout(r, 400));
      expect(standIn.callsTo('/slow')).toHaveLength(0);
      child.kill('SIGTERM');
      const killedAt = Date.now();
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(res.body.identity.traits.email).toBe(email);
      expect(await exited).toBe(0);
      // It exits once the request is done, not at the 5 s shutdown timeout.
      expect(Date.now() - killedAt).toBeLessThan(3000);
      await expect(fetch(`${url}/health/alive`)).rejects.toThrow();
      expect(await identitiesByEmail(kratos.adminUrl, email)).toHaveLength(1);
      expect(output).toContain('"msg":"shutting down"');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses to start on a bad config and names the key', async () => {
    const configPath = join(dir, 'bad.yaml');
    writeFileSync(configPath, stringify({ kratos: { public_url: 'not a url', admin_url: 'http://127.0.0.1:1' }, server: { port: 'eighty' } }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/runtime/node.ts', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('kratos.public_url: must be an http(s) URL');
    expect(stderr).toMatch(/server\.port: /);
  });
});
