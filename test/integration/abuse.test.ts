import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config.ts';
import { startKratos, type KratosInstance } from '../../scripts/kratos.ts';
import { startHookRecorder, type HookRecorder } from '../support/hook-recorder.ts';
import { postJson, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';

/**
 * Rate limits, brute-force protection and the client IP, end to end: the real Node gateway in
 * front of a real Kratos whose login `after` hook is a web_hook reporting the True-Client-Ip
 * header Kratos received (Kratos passes it to web_hooks: selfservice/hook/web_hook.go,
 * RequestHeaderAllowList). The test client's socket peer is 127.0.0.1.
 */

const PASSWORD = 'correct-horse-battery-staple';
let kratos: KratosInstance;
let recorder: HookRecorder;

function loginHookOverlay(url: string): Record<string, unknown> {
  const jsonnet =
    'function(ctx) { identity_id: ctx.identity.id, true_client_ip: if std.objectHas(ctx.request_headers, "True-Client-Ip") then ctx.request_headers["True-Client-Ip"][0] else null }';
  return { selfservice: { flows: { login: { after: { password: { hooks: [{ hook: 'web_hook', config: { url: `${url}/login`, method: 'POST', body: `base64://${btoa(jsonnet)}` } }] } } } } } };
}

async function createIdentity(email: string): Promise<string> {
  const res = await fetch(`${kratos.adminUrl}/admin/identities`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ schema_id: 'default', traits: { email }, credentials: { password: { config: { password: PASSWORD } } } }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** What Kratos's login web_hook reported for this identity, in order. */
async function hookIpsOf(identityId: string): Promise<Array<string | null>> {
  const all = (await (await fetch(`${recorder.url}/recorded`)).json()) as Array<{ identity_id: string; true_client_ip: string | null }>;
  return all.filter((r) => r.identity_id === identityId).map((r) => r.true_client_ip);
}

function gateway(abuse: ConfigInput['abuse'], server: ConfigInput['server'] = {}): Promise<TestGateway> {
  return startTestGateway({ config: { server: { host: '127.0.0.1', port: 0, shutdown_timeout_ms: 2000, ...server }, kratos: { public_url: kratos.publicUrl, admin_url: kratos.adminUrl }, abuse } });
}

const login = (gw: TestGateway, identifier: string, password: string, headers: Record<string, string> = {}) => postJson(`${gw.url}/v1/login`, { identifier, password }, headers);

beforeAll(async () => {
  recorder = await startHookRecorder();
  kratos = await startKratos({ overlay: loginHookOverlay(recorder.url), log: (l) => console.error(l) });
}, 120_000);
afterAll(async () => {
  await kratos?.stop();
  await recorder?.close();
});

const noTiming = { equal_timing: { enabled: false } };

describe('rate limit on POST /v1/login (real Kratos)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await gateway({ rate_limits: { login: { ip: { limit: 3, window_s: 60 }, identifier: false } }, brute_force: { enabled: false }, ...noTiming });
  });
  afterAll(() => gw?.close());

  it('answers the 4th attempt in a 3-per-minute window with 429, Retry-After and RateLimit headers', async () => {
    const email = uniqueEmail('rl');
    await createIdentity(email);
    expect((await login(gw, email, PASSWORD)).status).toBe(200);
    expect((await login(gw, email, 'wrong-password-1')).status).toBe(401);
    const third = await login(gw, email, PASSWORD);
    expect(third.status).toBe(200);
    expect(third.headers.get('ratelimit-policy')).toBe('"ip";q=3;w=60');
    expect(third.headers.get('ratelimit')).toMatch(/^"ip";r=0;t=(60|59|58)$/);
    const fourth = await login(gw, email, PASSWORD);
    expect(fourth.status).toBe(429);
    expect(fourth.headers.get('content-type')).toBe('application/problem+json');
    expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThanOrEqual(55);
    expect(fourth.headers.get('ratelimit')).toMatch(/^"ip";r=0;t=\d+$/);
    expect(fourth.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
  });
});

describe('brute-force protection and trusted proxies (real Kratos)', () => {
  let trusted: TestGateway;
  let untrusted: TestGateway;
  beforeAll(async () => {
    const abuse = { rate_limits: { login: { ip: { limit: 4, window_s: 60 }, identifier: false as const } }, brute_force: { identifier_ip: { failures: 3, window_s: 60 }, identifier: { failures: 6, window_s: 60 } }, ...noTiming };
    // The test client (127.0.0.1) is a trusted proxy for one gateway, an untrusted peer for the other.
    trusted = await gateway(abuse, { trusted_proxies: ['127.0.0.1/32', '::1'] });
    untrusted = await gateway(abuse, { trusted_proxies: ['10.0.0.0/8'] });
  });
  afterAll(async () => {
    await trusted?.close();
    await untrusted?.close();
  });
  const from = (ip: string) => ({ 'x-forwarded-for': ip });

  it('blocks an identifier after failures from one IP, but not the same identifier from another IP below the overall threshold', async () => {
    const email = uniqueEmail('bf');
    await createIdentity(email);
    for (let i = 0; i < 3; i++) expect((await login(trusted, email, `wrong-password-${i}`, from('203.0.113.10'))).status).toBe(401);
    const blocked = await login(trusted, email, PASSWORD, from('203.0.113.10'));
    expect(blocked.status).toBe(429);
    expect(blocked.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // 3 failures < 6 overall: the owner at another address signs in.
    expect((await login(trusted, email, PASSWORD, from('198.51.100.20'))).status).toBe(200);
  });

  it('stops a spray from many IPs at the overall threshold', async () => {
    const email = uniqueEmail('spray');
    await createIdentity(email);
    for (let i = 0; i < 6; i++) expect((await login(trusted, email, 'wrong-password', from(`203.0.113.${50 + i}`))).status).toBe(401);
    expect((await login(trusted, email, PASSWORD, from('203.0.113.99'))).status).toBe(429);
  });

  it('starts counting again after a successful login', async () => {
    // Its own gateway without a per-IP request limit: all attempts come from one address.
    const gw = await gateway({ rate_limits: { login: { ip: false, identifier: false } }, brute_force: { identifier_ip: { failures: 3, window_s: 60 }, identifier: { failures: 6, window_s: 60 } }, ...noTiming });
    try {
      const email = uniqueEmail('reset');
      await createIdentity(email);
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 2; i++) expect((await login(gw, email, 'wrong-password')).status).toBe(401);
        expect((await login(gw, email, PASSWORD)).status).toBe(200);
      }
      // Without the resets this would be the 7th failure from one IP (blocked at 3, and at 6 overall).
      expect((await login(gw, email, 'wrong-password')).status).toBe(401);
      for (let i = 0; i < 2; i++) expect((await login(gw, email, 'wrong-password')).status).toBe(401);
      expect((await login(gw, email, PASSWORD)).status).toBe(429);
    } finally {
      await gw.close();
    }
  });

  it("ignores an untrusted peer's X-Forwarded-For: it neither escapes the limit nor reaches Kratos", async () => {
    const email = uniqueEmail('spoof');
    const id = await createIdentity(email);
    // Four different spoofed addresses count against the one real peer (limit 4 per IP).
    for (let i = 0; i < 4; i++) expect((await login(untrusted, email, PASSWORD, from(`6.6.6.${i}`))).status).toBe(200);
    expect((await login(untrusted, email, PASSWORD, from('6.6.6.200'))).status).toBe(429);
    // Kratos saw the peer, never the spoofed address.
    expect(await hookIpsOf(id)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1']);
  });

  it("from a trusted peer, X-Forwarded-For keys the limit and reaches Kratos's web_hook as True-Client-Ip", async () => {
    const email = uniqueEmail('xff');
    const id = await createIdentity(email);
    for (let i = 0; i < 4; i++) expect((await login(trusted, email, PASSWORD, from(`6.6.6.6, 192.0.2.44`))).status).toBe(200);
    expect((await login(trusted, email, PASSWORD, from('192.0.2.44'))).status).toBe(429);
    // Another client behind the same proxy has its own window; IPv6 arrives canonicalised.
    expect((await login(trusted, email, PASSWORD, from('2001:DB8::45'))).status).toBe(200);
    expect(await hookIpsOf(id)).toEqual(['192.0.2.44', '192.0.2.44', '192.0.2.44', '192.0.2.44', '2001:db8::45']);
  });
});
