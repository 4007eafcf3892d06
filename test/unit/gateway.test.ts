import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, type ConfigInput } from '../../src/config.ts';
import { createGateway, defineConfig, serveAtBasePath } from '../../src/gateway.ts';
import * as publicApi from '../../src/index.ts';
import { createMemoryIdempotencyStore } from '../../src/idempotency/store.ts';
import { createMemoryRateLimitStore } from '../../src/abuse/store.ts';
import { createLogger } from '../../src/shared/log.ts';
import { loadConfigFile } from '../../src/runtime/node-config.ts';
import { createFakeKratos } from '../support/fake-kratos.ts';
import { json } from '../support/app.ts';

const SECRET = 'unit-test-session-secret-0123456789abcdef';
const kratos = { public_url: 'http://kratos.test', admin_url: 'http://kratos-admin.test' };
const signUp = { traits: { email: 'ada@example.com' }, password: 'correct-horse-battery-staple' };

function gatewayOn(config: ConfigInput) {
  const fake = createFakeKratos();
  const gateway = createGateway({ config, transport: fake.transport, logger: createLogger({ level: 'error', sink: () => {} }) });
  return { gateway, fake };
}

/** A host app with the gateway mounted at `mount`, as the README shows. */
function mounted(config: ConfigInput, mount: string) {
  const { gateway, fake } = gatewayOn(config);
  const host = new Hono();
  host.get('/', (c) => c.text('host'));
  host.route(mount, gateway);
  return { host, fake };
}

const cookieConfig = (extra: Partial<ConfigInput> = {}): ConfigInput =>
  defineConfig({ kratos, server: { base_path: '/auth' }, secrets: { session: [SECRET] }, session: { delivery: 'cookie' }, ...extra });

describe('server.base_path', () => {
  it('is empty by default, loses a trailing slash, and refuses what is not a plain path', () => {
    expect(parseConfig({ kratos }).server.base_path).toBe('');
    expect(parseConfig({ kratos, server: { base_path: '/' } }).server.base_path).toBe('');
    expect(parseConfig({ kratos, server: { base_path: '/api/auth/' } }).server.base_path).toBe('/api/auth');
    for (const bad of ['auth', '/a b', '/..', '/a/../b', '//auth', '/auth?x', '/ä']) {
      expect(() => parseConfig({ kratos, server: { base_path: bad } }), bad).toThrow(/server\.base_path: must be a path like \/auth/);
    }
  });

  it('is the session cookie path unless session.cookie.path is set', () => {
    expect(parseConfig({ kratos }).session.cookie.path).toBe('/');
    expect(parseConfig({ kratos, server: { base_path: '/auth' } }).session.cookie.path).toBe('/auth');
    expect(parseConfig({ kratos, server: { base_path: '/auth' }, session: { cookie: { path: '/' } } }).session.cookie.path).toBe('/');
  });

  it('parses a parsed config to the same config (startNodeGateway validates what it is given)', () => {
    const once = loadConfigFile('config/gateway.yaml', {});
    expect(parseConfig(once)).toEqual(once);
    const withBase = parseConfig(cookieConfig());
    expect(parseConfig(withBase)).toEqual(withBase);
  });
});

describe('createGateway mounted with app.route', () => {
  it('signs up under the prefix and sets the cookie for it', async () => {
    const { host, fake } = mounted(cookieConfig(), '/auth');
    const res = await host.request('/auth/v1/registration', json(signUp));
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(/^kbff_session=[^;]+;.*; Path=\/auth;/);
    expect(fake.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual(['GET /self-service/registration/api', 'POST /self-service/registration']);
    // A cookie that no longer opens is cleared on the same path.
    const stale = await host.request('/auth/v1/session', { headers: { cookie: 'kbff_session=stale' } });
    expect(stale.status).toBe(401);
    expect(stale.headers.get('set-cookie')).toMatch(/^kbff_session=;.*Path=\/auth/);
    // The host's own routes are untouched.
    expect(await (await host.request('/')).text()).toBe('host');
  });

  it('keeps an explicit cookie path', async () => {
    const { host } = mounted(cookieConfig({ session: { delivery: 'cookie', cookie: { path: '/' } } }), '/auth');
    const res = await host.request('/auth/v1/registration', json(signUp));
    expect(res.headers.get('set-cookie')).toMatch(/; Path=\/;/);
  });

  it('advertises the prefix in /openapi.json, and / without one', async () => {
    const { host } = mounted(cookieConfig(), '/auth');
    const doc = (await (await host.request('/auth/openapi.json')).json()) as { servers?: unknown; paths: Record<string, unknown> };
    expect(doc.servers).toEqual([{ url: '/auth' }]);
    expect(Object.keys(doc.paths)).toContain('/v1/registration');
    const plain = (await (await gatewayOn({ kratos }).gateway.request('/openapi.json')).json()) as { servers?: unknown };
    expect(plain.servers).toEqual([{ url: '/' }]);
  });

  it('answers unknown paths under the prefix with its own problem+json 404', async () => {
    const { host } = mounted(cookieConfig(), '/auth');
    const res = await host.request('/auth/v2/whatever');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as { code: string }).code).toBe('NOT_FOUND');
    expect((await host.request('/elsewhere')).status).toBe(404);
  });

  it('refuses to work when mounted somewhere other than its base path (no Kratos call, no cookie)', async () => {
    const { host, fake } = mounted(cookieConfig(), '/api');
    const res = await host.request('/api/v1/registration', json(signUp));
    expect(res.status).toBe(404);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(fake.requests).toEqual([]);
  });

  it('sends an HTML form post to the configured redirect target, not to a path of its own', async () => {
    const config = cookieConfig({
      selfservice: { registration: { after: { password: [{ job: 'session' }, { job: 'redirect', config: { redirect_to: 'https://app.example.com/welcome' } }] } } },
    });
    const { host } = mounted(config, '/auth');
    const res = await host.request('/auth/v1/registration', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: new URLSearchParams({ 'traits.email': 'ada@example.com', password: 'correct-horse-battery-staple' }).toString(),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('https://app.example.com/welcome');
    expect(res.headers.get('set-cookie')).toMatch(/Path=\/auth/);
  });
});

describe('createGateway', () => {
  it('validates the config with the schema, resolving ${NAME} from env', () => {
    expect(() => createGateway({ config: { kratos: { public_url: 'nope', admin_url: 'http://k' } } })).toThrow(ConfigError);
    expect(() => createGateway({ config: { kratos: { public_url: '${KRATOS}', admin_url: 'http://k' } } })).toThrow(/KRATOS is not set/);
    expect(() => createGateway({ config: { kratos: { public_url: '${KRATOS}', admin_url: 'http://k' } }, env: { KRATOS: 'http://kratos' } })).not.toThrow();
  });

  it('reaches Kratos through the given fetch', async () => {
    const calls: string[] = [];
    const gateway = createGateway({
      config: { kratos },
      logger: createLogger({ level: 'error', sink: () => {} }),
      fetch: async (url) => (calls.push(url), new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } })),
    });
    expect((await gateway.request('/health/ready')).status).toBe(200);
    expect(calls).toEqual(['http://kratos.test/health/ready']);
  });
});

describe('serveAtBasePath (the Node and Workers entries)', () => {
  it('serves the gateway under the base path and its 404 outside it', async () => {
    const { gateway } = gatewayOn(cookieConfig());
    const served = serveAtBasePath(gateway, '/auth');
    expect((await served.fetch(new Request('http://gw/auth/health/alive'))).status).toBe(200);
    const outside = await served.fetch(new Request('http://gw/health/alive'));
    expect(outside.status).toBe(404);
    expect(outside.headers.get('content-type')).toBe('application/problem+json');
    expect(outside.headers.get('x-request-id')).toBeTruthy();
  });

  it('is the gateway itself without a base path', () => {
    const { gateway } = gatewayOn({ kratos });
    expect(serveAtBasePath(gateway, '')).toBe(gateway);
  });
});

describe('the public surface (src/index.ts)', () => {
  it('exports the documented functions', () => {
    for (const name of ['createGateway', 'defineConfig', 'createApp', 'parseConfig', 'ConfigError', 'createLogger', 'fetchTransport', 'kratosClientFor']) {
      expect(typeof (publicApi as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(publicApi.configSchema.safeParse({ kratos }).success).toBe(true);
  });
});

describe('state.backend: redis when mounting the gateway yourself', () => {
  const redisConfig = defineConfig({ kratos, idempotency: { secret: SECRET }, state: { backend: 'redis', redis: { url: 'redis://127.0.0.1:6379' } } });

  it('refuses to fall back to per-process memory without a Redis store', () => {
    expect(() => gatewayOn(redisConfig)).toThrow(ConfigError);
    expect(() => gatewayOn(redisConfig)).toThrow(/state\.backend: redis needs a Redis store/);
  });

  it('uses the store it is given (here an in-memory one standing in for Redis) and its readiness probe', async () => {
    const fake = createFakeKratos();
    let redisUp = true;
    const gateway = createGateway({
      config: redisConfig,
      transport: fake.transport,
      logger: createLogger({ level: 'error', sink: () => {} }),
      idempotencyStore: createMemoryIdempotencyStore(),
      rateLimitStore: createMemoryRateLimitStore(),
      readiness: { redis: async () => redisUp },
    });
    expect(await (await gateway.request('/health/ready')).json()).toEqual({ status: 'ok', checks: { kratos: 'ok', redis: 'ok' } });
    redisUp = false;
    const res = await gateway.request('/health/ready');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'unavailable', checks: { kratos: 'ok', redis: 'unavailable' } });
  });
});
