import { describe, expect, it } from 'vitest';
import type { DocsAssetSource } from '../../src/docs/config.ts';
import { serveAtBasePath } from '../../src/gateway.ts';
import { appWithFakeKratos } from '../support/app.ts';

interface Operation {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  responses: Record<string, { $ref?: string; headers?: Record<string, { $ref: string }> }>;
}
interface Doc {
  servers: Array<{ url: string; description?: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: {
    securitySchemes: Record<string, { type: string; in?: string; name?: string; scheme?: string }>;
    schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }>;
    responses: Record<string, { headers?: Record<string, { $ref: string }> }>;
    headers: Record<string, unknown>;
  };
}

async function documentOf(overrides: Parameters<typeof appWithFakeKratos>[0] = {}): Promise<Doc> {
  const { app } = appWithFakeKratos(overrides);
  return (await (await app.request('/openapi.json')).json()) as Doc;
}

const operations = (doc: Doc) => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));

describe('/openapi.json', () => {
  it('names every operation (unique operationIds a generator turns into method names)', async () => {
    const ops = operations(await documentOf());
    const ids = ops.map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id)), ids.join(', ')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const byRoute = Object.fromEntries(ops.map(({ path, method, op }) => [`${method} ${path}`, op.operationId]));
    expect(byRoute).toEqual({
      'get /health/alive': 'checkAlive',
      'get /health/ready': 'checkReady',
      'post /v1/registration': 'register',
      'post /v1/login': 'login',
      'get /v1/session': 'getSession',
      'delete /v1/session': 'logout',
      'post /v1/settings/password': 'changePassword',
      'patch /v1/settings/profile': 'updateProfile',
      'post /v1/recovery': 'startRecovery',
      'post /v1/recovery/code': 'completeRecovery',
      'post /v1/verification': 'startVerification',
      'post /v1/verification/code': 'verifyEmail',
      'post /v1/login/second-factor': 'completeSecondFactor',
      'post /v1/login/code': 'sendLoginCode',
      'post /v1/login/code/verify': 'verifyLoginCode',
      'post /v1/settings/totp': 'startTotpEnrolment',
      'delete /v1/settings/totp': 'removeTotp',
      'post /v1/settings/totp/confirm': 'confirmTotpEnrolment',
      'post /v1/settings/lookup-codes': 'generateLookupCodes',
      'delete /v1/settings/lookup-codes': 'removeLookupCodes',
      'post /v1/settings/lookup-codes/confirm': 'confirmLookupCodes',
      'post /v1/registration/code': 'sendRegistrationCode',
      'post /v1/registration/code/verify': 'verifyRegistrationCode',
    });
  });

  it('declares security on every operation: a session for /v1/session and /v1/settings, optional for the second factor, none elsewhere', async () => {
    const doc = await documentOf({ session: { cookie: { name: 'my_sess' } } });
    const session = [{ bearerAuth: [] }, { sessionToken: [] }, { sessionCookie: [] }];
    for (const { path, op } of operations(doc)) {
      expect(op.security, path).toBeDefined();
      const expected = path === '/v1/session' || path.startsWith('/v1/settings/') ? session : path === '/v1/login/second-factor' ? [{}, ...session] : [];
      expect(op.security, path).toEqual(expected);
    }
    expect(doc.components.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      sessionToken: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-Session-Token' }),
      sessionCookie: expect.objectContaining({ type: 'apiKey', in: 'cookie', name: 'my_sess' }),
    });
  });

  it('documents 429 with RateLimit headers on every rate-limited operation, from one shared helper', async () => {
    const doc = await documentOf();
    const limited = [
      '/v1/registration',
      '/v1/login',
      '/v1/verification',
      '/v1/verification/code',
      '/v1/recovery',
      '/v1/recovery/code',
      '/v1/login/code',
      '/v1/login/code/verify',
      '/v1/registration/code',
      '/v1/registration/code/verify',
      '/v1/login/second-factor',
    ];
    for (const path of limited) {
      const responses = doc.paths[path]!.post!.responses;
      expect(responses['429']!.headers, path).toEqual({
        'Retry-After': { $ref: '#/components/headers/Retry-After' },
        RateLimit: { $ref: '#/components/headers/RateLimit' },
        'RateLimit-Policy': { $ref: '#/components/headers/RateLimit-Policy' },
      });
      expect(Object.keys(responses['200']!.headers!), path).toEqual(expect.arrayContaining(['RateLimit', 'RateLimit-Policy']));
    }
    expect(Object.keys(doc.components.headers)).toEqual(expect.arrayContaining(['Retry-After', 'Idempotent-Replayed', 'RateLimit', 'RateLimit-Policy']));
    const register = doc.paths['/v1/registration']!.post!.responses;
    expect(register['200']!.headers!['Idempotent-Replayed']).toEqual({ $ref: '#/components/headers/Idempotent-Replayed' });
    expect(register['503']!.headers!['Retry-After']).toEqual({ $ref: '#/components/headers/Retry-After' });
  });

  it('documents 403 on every state-changing operation and Retry-After on every 503 of /v1', async () => {
    for (const { path, method, op } of operations(await documentOf())) {
      if (method !== 'get') expect(op.responses['403'], `${method} ${path}`).toBeDefined();
      const unavailable = op.responses['503'];
      if (path.startsWith('/v1/') && unavailable) expect(unavailable.headers?.['Retry-After'], `${method} ${path}`).toEqual({ $ref: '#/components/headers/Retry-After' });
    }
  });

  it('types the identity and the session in full', async () => {
    const { schemas } = (await documentOf()).components;
    expect(Object.keys(schemas.Identity!.properties!)).toEqual(expect.arrayContaining(['id', 'schema_id', 'traits', 'state', 'verifiable_addresses', 'metadata_public']));
    expect(schemas.Identity!.required).toEqual(['id', 'schema_id', 'schema_url', 'traits']);
    expect(Object.keys(schemas.Session!.properties!)).toEqual(
      expect.arrayContaining(['id', 'active', 'expires_at', 'authenticator_assurance_level', 'authentication_methods', 'identity', 'devices']),
    );
  });

  it('takes servers from openapi.servers, else server.base_path or /', async () => {
    expect((await documentOf()).servers).toEqual([{ url: '/' }]);
    const servers = [{ url: 'https://auth.example.com', description: 'production' }, { url: 'http://127.0.0.1:8080' }];
    expect((await documentOf({ openapi: { servers } })).servers).toEqual(servers);
  });
});

describe('/docs', () => {
  const assets: DocsAssetSource = async (name) => (name === 'swagger-ui.css' ? 'body{}' : name === 'swagger-ui-bundle.js' ? 'var SwaggerUIBundle;' : null);
  const withDocs = (docsAssets: DocsAssetSource | undefined, overrides: Parameters<typeof appWithFakeKratos>[0] = {}) =>
    appWithFakeKratos({ docs: { enabled: true }, ...overrides }, docsAssets ? { docsAssets } : {}).app;

  it('is off by default', async () => {
    const { app } = appWithFakeKratos();
    expect((await app.request('/docs')).status).toBe(404);
    expect((await app.request('/docs/assets/swagger-ui-bundle.js')).status).toBe(404);
  });

  it('serves a page that loads only the gateway\'s own files, under a strict CSP', async () => {
    const res = await withDocs(assets).request('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const html = await res.text();
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(urls).toEqual(['/docs/assets/swagger-ui.css', '/docs/assets/swagger-ui-bundle.js', '/docs/assets/init.js']);
    expect(html).not.toMatch(/<script>|<style/);
    expect(html).toContain('data-openapi-url="/openapi.json"');
  });

  it('serves the renderer files with their content types and caching, and nothing else', async () => {
    const app = withDocs(assets);
    const js = await app.request('/docs/assets/swagger-ui-bundle.js');
    expect([js.status, js.headers.get('content-type'), js.headers.get('cache-control'), await js.text()]).toEqual([
      200,
      'text/javascript; charset=utf-8',
      'public, max-age=86400',
      'var SwaggerUIBundle;',
    ]);
    expect((await app.request('/docs/assets/swagger-ui.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    const init = await app.request('/docs/assets/init.js');
    expect(await init.text()).toContain('validatorUrl: null');
    expect((await app.request('/docs/assets/package.json')).status).toBe(404);
    expect((await app.request('/docs/assets/..%2Fpackage.json')).status).toBe(404);
  });

  it('answers 404 for a renderer file the runtime cannot provide', async () => {
    expect((await withDocs(undefined).request('/docs/assets/swagger-ui-bundle.js')).status).toBe(404);
    expect((await withDocs(async () => null).request('/docs/assets/swagger-ui.css')).status).toBe(404);
  });

  it('links its files under server.base_path', async () => {
    const app = serveAtBasePath(withDocs(assets, { server: { base_path: '/auth' } }), '/auth');
    const get = (path: string) => app.fetch(new Request(`http://gateway.test${path}`));
    const html = await (await get('/auth/docs')).text();
    expect((await get('/auth/docs/assets/swagger-ui.css')).status).toBe(200);
    expect(html).toContain('href="/auth/docs/assets/swagger-ui.css"');
    expect(html).toContain('data-openapi-url="/auth/openapi.json"');
  });
});
