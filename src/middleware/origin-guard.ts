import type { AppContext } from '../app-env.ts';
import { AppError } from '../errors.ts';
import type { SessionConfig } from '../session/config.ts';
import { hasSessionCookie } from '../session/cookie.ts';

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cross-site request protection for state-changing requests. Hono's csrf() middleware only
 * checks form content types, but our JSON endpoints are just as reachable cross-site (a JSON
 * POST with credentials is a CORS "simple" request in some browsers' edge cases, and login
 * CSRF needs no cookie at all), so every unsafe method is checked:
 * - a browser request says where it comes from (`Origin`): it must be a listed origin;
 * - without Origin, `Sec-Fetch-Site` (set by browsers, not forgeable by pages) must not be cross-site;
 * - a request that carries our session cookie but proves neither is refused, since nothing
 *   shows it came from a page we trust. Native clients (no cookie, no Origin) pass.
 */
export function originGuard(allowedOrigins: readonly string[], cookie: SessionConfig['cookie']): (c: AppContext) => void {
  const allowed = new Set(allowedOrigins);
  // A check the front-door middleware calls (src/app.ts), not a middleware of its own: one
  // async layer less per request.
  return (c) => {
    if (safeMethods.has(c.req.method)) return;
    const origin = c.req.header('origin');
    const site = c.req.header('sec-fetch-site');
    let ok: boolean;
    if (origin !== undefined) ok = allowed.has(origin) || origin === new URL(c.req.url).origin;
    else if (site !== undefined) ok = site === 'same-origin' || site === 'none';
    else ok = !hasSessionCookie(c, cookie);
    if (!ok) {
      c.get('log').warn('cross-site request refused', { origin: origin ?? null, sec_fetch_site: site ?? null });
      throw new AppError('ORIGIN_NOT_ALLOWED');
    }
  };
}
