import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { AppError } from '../errors.ts';
import type { DocsAssetName, DocsAssetSource } from './config.ts';

/**
 * `GET /docs`: the OpenAPI document rendered by Swagger UI (swagger-ui-dist), served entirely
 * from the gateway: no CDN, so it works offline and behind a strict CSP. The renderer's files
 * come from the runtime (`AppDeps.docsAssets`): read from node_modules on Node, from Wrangler
 * static assets on Workers, so the multi-MB bundle never enters the Worker's script.
 */

/** The renderer's files the page loads, with their content types. */
const docsAssetTypes: Record<DocsAssetName, string> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
};

// Only our own files: no inline script or style, no eval, nothing from another origin.
// `data:` images are the icons inside swagger-ui.css.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const securityHeaders = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

// The initializer is a file, not an inline script, so the CSP needs no 'unsafe-inline'. It reads
// the document's URL from the page; validatorUrl: null stops Swagger UI from calling
// validator.swagger.io.
const INIT_JS = `window.addEventListener('load', function () {
  var root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: root.getAttribute('data-openapi-url'),
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    displayOperationId: true,
    tryItOutEnabled: false
  });
});
`;

function page(base: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kratos-bff API</title>
<link rel="stylesheet" href="${base}/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="${base}/openapi.json"></div>
<script src="${base}/docs/assets/swagger-ui-bundle.js"></script>
<script src="${base}/docs/assets/init.js"></script>
</body>
</html>
`;
}

/** The docs page and its assets, under `base` (`server.base_path`). */
export function docsRoutes(base: string, source: DocsAssetSource | undefined) {
  const html = page(base);
  return new Hono<AppEnv>()
    .get('/docs', (c) => c.html(html, 200, { ...securityHeaders, 'Cache-Control': 'no-cache' }))
    .get('/docs/assets/init.js', (c) =>
      c.body(INIT_JS, 200, { ...securityHeaders, 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'public, max-age=3600' }),
    )
    .get('/docs/assets/:name', async (c) => {
      const name = c.req.param('name');
      if (!source || !Object.hasOwn(docsAssetTypes, name)) throw new AppError('NOT_FOUND');
      const body = await source(name as DocsAssetName);
      if (body === null) {
        c.get('log').warn('docs asset missing', { asset: name });
        throw new AppError('NOT_FOUND');
      }
      return c.body(body as never, 200, {
        ...securityHeaders,
        'Content-Type': docsAssetTypes[name as DocsAssetName],
        // Not versioned in the URL: a day, then revalidated.
        'Cache-Control': 'public, max-age=86400',
      });
    });
}
