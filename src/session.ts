import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import type { AppContext } from './context.ts';
import { AppError, validationError } from './errors.ts';
import { deriveCookieKeys, openSessionCookie, sealSessionCookie, type CookieKeys } from './session-cookie.ts';

/**
 * How a session reaches the client (the `session` after-job) and how it comes back.
 * Token delivery: `session_token` in the body, for native clients. Cookie delivery: an
 * HttpOnly cookie whose value is the Kratos token sealed with AES-GCM under `secrets.session`;
 * the token is then never in the body.
 */
export const sessionConfigSchema = z
  .object({
    /** Default delivery. */
    delivery: z.enum(['token', 'cookie']).default('token'),
    /** Let a request pick with `X-Session-Delivery: token|cookie`. */
    client_choice: z.boolean().default(false),
    cookie: z
      .object({
        name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('kbff_session'),
        /** Switch off only for local http development. */
        secure: z.boolean().default(true),
        same_site: z.enum(['Lax', 'Strict', 'None']).default('Lax'),
        domain: z.string().min(1).optional(),
        /** Default: `server.base_path`, or `/` (filled in by the config schema). */
        path: z.string().startsWith('/').optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type SessionConfig = z.infer<typeof sessionConfigSchema>;
export type Delivery = 'token' | 'cookie';

/** Seals and opens session cookies; keys are derived once, on first use. */
export interface SessionCookies {
  seal(token: string, expiresAt: number): Promise<string>;
  open(value: string, now: number): Promise<string | undefined>;
}

export function createSessionCookies(secrets: readonly string[]): SessionCookies | undefined {
  if (secrets.length === 0) return undefined;
  let keys: Promise<CookieKeys> | undefined;
  const get = () => (keys ??= deriveCookieKeys(secrets));
  return {
    seal: async (token, expiresAt) => sealSessionCookie(await get(), { token, expiresAt }),
    open: async (value, now) => {
      const r = await openSessionCookie(await get(), value, now);
      return r.ok ? r.token : undefined;
    },
  };
}

/** True for a plain HTML form post (no JavaScript): such a client gets a cookie and a 303. */
export function isHtmlFormPost(c: AppContext): boolean {
  const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
  return c.req.method === 'POST' && (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data');
}

/**
 * The delivery for this request: HTML form posts always get a cookie (they cannot hold a
 * token); otherwise `X-Session-Delivery` when `session.client_choice` allows it, else the default.
 */
export function chooseDelivery(c: AppContext): Delivery {
  const cfg = c.get('deps').config.session;
  if (isHtmlFormPost(c)) {
    // Decided here, before any upstream call: failing at delivery time would come after Kratos
    // created the identity or the session.
    if (!c.get('cookies')) {
      throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'HTML form posts get the session as a cookie, and this gateway has no secrets.session; send JSON.');
    }
    return 'cookie';
  }
  const asked = c.req.header('x-session-delivery')?.trim().toLowerCase();
  if (asked === undefined || asked === '') return cfg.delivery;
  if (asked !== 'token' && asked !== 'cookie') {
    throw validationError([{ pointer: '', code: 'INVALID_VALUE', message: 'X-Session-Delivery must be "token" or "cookie"' }]);
  }
  if (!cfg.client_choice && asked !== cfg.delivery) {
    throw validationError([{ pointer: '', code: 'INVALID_VALUE', message: `X-Session-Delivery: this gateway delivers sessions only as ${cfg.delivery}` }]);
  }
  return asked;
}

/** Sets the sealed session cookie, expiring with the Kratos session. */
export async function setSessionCookie(c: AppContext, token: string, expiresAt: number): Promise<void> {
  const { cookie } = c.get('deps').config.session;
  const cookies = c.get('cookies');
  if (!cookies) throw new AppError(500, 'INTERNAL_ERROR', 'Cookie delivery needs secrets.session.');
  const now = c.get('deps').now?.() ?? Date.now();
  setCookie(c, cookie.name, await cookies.seal(token, expiresAt), {
    httpOnly: true,
    secure: cookie.secure,
    sameSite: cookie.same_site,
    path: cookie.path,
    ...(cookie.domain ? { domain: cookie.domain } : {}),
    expires: new Date(expiresAt),
    maxAge: Math.max(0, Math.floor((expiresAt - now) / 1000)),
  });
}

export function clearSessionCookie(c: AppContext): void {
  const { cookie } = c.get('deps').config.session;
  deleteCookie(c, cookie.name, {
    path: cookie.path,
    secure: cookie.secure,
    httpOnly: true,
    sameSite: cookie.same_site,
    ...(cookie.domain ? { domain: cookie.domain } : {}),
  });
}

/** True if the request carries the gateway's session cookie (opened or not). */
export function hasSessionCookie(c: AppContext): boolean {
  return getCookie(c, c.get('deps').config.session.cookie.name) !== undefined;
}

// Kratos session tokens are opaque ASCII; anything else in these headers is refused
// rather than forwarded.
const tokenPattern = /^[A-Za-z0-9._~+/=-]{1,512}$/;

export interface IncomingSession {
  token: string;
  via: 'header' | 'cookie';
}

/**
 * The client's session: `X-Session-Token`, `Authorization: Bearer`, or the gateway's cookie,
 * in that order. A malformed header is a 400; a cookie that does not open (tampered, expired,
 * sealed under a removed secret) counts as no session.
 */
export async function incomingSession(c: AppContext): Promise<IncomingSession | undefined> {
  const raw = c.req.header('x-session-token');
  if (raw !== undefined && raw !== '') {
    if (!tokenPattern.test(raw)) throw new AppError(400, 'INVALID_AUTHORIZATION');
    return { token: raw, via: 'header' };
  }
  const auth = c.req.header('authorization');
  if (auth) {
    const [scheme, token, ...rest] = auth.trim().split(/\s+/);
    if (scheme?.toLowerCase() === 'bearer') {
      if (!token || rest.length > 0 || !tokenPattern.test(token)) throw new AppError(400, 'INVALID_AUTHORIZATION');
      return { token, via: 'header' };
    }
  }
  const deps = c.get('deps');
  const cookies = c.get('cookies');
  const value = getCookie(c, deps.config.session.cookie.name);
  if (value && cookies) {
    const token = await cookies.open(value, deps.now?.() ?? Date.now());
    if (token) return { token, via: 'cookie' };
  }
  return undefined;
}
