import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Telemetry } from './telemetry.ts';

/**
 * The route pattern a request matched (`/v1/registration`), never its raw path, so ids in
 * paths cannot blow up label cardinality. Middleware and the catch-all are `ALL` routes; a
 * request that matched no handler of its method is `unmatched`.
 */
export function routePattern(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i]!;
    if (r.method !== 'ALL') return r.path;
  }
  return 'unmatched';
}

/**
 * Times every request and opens its server span; mounted first, so the span is the current one
 * for everything after it (the access log, Kratos and service calls).
 */
export function observeRequests(telemetry: Telemetry): MiddlewareHandler {
  const { metrics, tracing } = telemetry;
  if (!metrics.enabled && !tracing.enabled) return (_c, next) => next();
  return (c, next) =>
    tracing.request(c.req.method, (name) => c.req.header(name), async (span) => {
      const started = performance.now();
      try {
        await next();
      } finally {
        // Hono's error handler has written c.res by now, even when a handler threw.
        const status = c.res.status;
        const route = routePattern(c);
        metrics.request(c.req.method, route, status, (performance.now() - started) / 1000);
        span.updateName(`${c.req.method} ${route}`);
        span.setAttributes({ 'http.request.method': c.req.method, 'http.route': route, 'http.response.status_code': status });
        if (status >= 500) span.fail();
      }
    });
}
