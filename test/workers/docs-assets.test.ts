import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWorkerBundle } from '../../scripts/bundle-size.ts';

/**
 * The docs page on Workers: the Worker build (whose wrangler `[build]` command copies the
 * renderer into .cache/docs-assets) inside workerd, with that directory bound as static assets
 * the way wrangler.toml binds it. The renderer comes from the assets, not the script.
 */
describe('worker (workerd): /docs from static assets', () => {
  const kratos = inject('kratos');
  let mf: Miniflare;
  let url: string;
  let bundleBytes: number;

  beforeAll(async () => {
    const bundle = buildWorkerBundle();
    bundleBytes = bundle.rawBytes;
    mf = new Miniflare({
      modules: true,
      modulesRoot: join(bundle.path, '..'),
      scriptPath: bundle.path,
      compatibilityDate: '2025-09-01',
      cf: false,
      port: 0,
      bindings: {
        GATEWAY_CONFIG: JSON.stringify({ kratos: { public_url: kratos.publicUrl, admin_url: kratos.adminUrl }, docs: { enabled: true } }),
      },
      assets: {
        directory: resolve('.cache/docs-assets'),
        binding: 'ASSETS',
        // wrangler.toml's run_worker_first = true.
        routerConfig: { invoke_user_worker_ahead_of_assets: true, has_user_worker: true },
      },
    });
    url = (await mf.ready).href.replace(/\/$/, '');
  });

  afterAll(async () => {
    await mf?.dispose();
  });

  it('serves the page and the renderer files through the Worker, with the page\'s headers', async () => {
    const page = await fetch(`${url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const bundle = await fetch(`${url}/docs/assets/swagger-ui-bundle.js`);
    expect([bundle.status, bundle.headers.get('content-type'), bundle.headers.get('cache-control')]).toEqual([200, 'text/javascript; charset=utf-8', 'public, max-age=86400']);
    const body = await bundle.text();
    expect(body).toBe(readFileSync(resolve('node_modules/swagger-ui-dist/swagger-ui-bundle.js'), 'utf8'));
    // The renderer is bigger than the whole Worker script: it is not inlined into it.
    expect(body.length).toBeGreaterThan(bundleBytes);
    expect((await fetch(`${url}/docs/assets/swagger-ui.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('does not expose the assets directory outside /docs', async () => {
    const res = await fetch(`${url}/swagger-ui-bundle.js`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });
});
