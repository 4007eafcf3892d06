import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { CookieOptions } from 'hono/utils/cookie';
import type { SessionConfig } from './config.ts';
import { deriveCookieKeys, openSessionCookie, sealSessionCookie, type CookieKeys } from './sealed-cookie.ts';
import { headersWillBeSet } from '../shared/response.ts';

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

/** A cookie to set on the response: orchestration returns it, the route sets it. */
export interface SetCookie {
  name: string;
  value: string;
  options: CookieOptions;
}

/** The sealed session cookie, expiring with the Kratos session. */
export async function sessionCookie(cfg: SessionConfig['cookie'], cookies: SessionCookies, token: string, expiresAt: number, now: number): Promise<SetCookie> {
  return {
    name: cfg.name,
    value: await cookies.seal(token, expiresAt),
    options: {
      httpOnly: true,
      secure: cfg.secure,
      sameSite: cfg.same_site,
      path: cfg.path ?? '/',
      ...(cfg.domain ? { domain: cfg.domain } : {}),
      expires: new Date(expiresAt),
      maxAge: Math.max(0, Math.floor((expiresAt - now) / 1000)),
    },
  };
}

export function applyCookie(c: Context, cookie: SetCookie): void {
  headersWillBeSet(c);
  setCookie(c, cookie.name, cookie.value, cookie.options);
}

export function clearSessionCookie(c: Context, cfg: SessionConfig['cookie']): void {
  headersWillBeSet(c);
  deleteCookie(c, cfg.name, {
    path: cfg.path ?? '/',
    secure: cfg.secure,
    httpOnly: true,
    sameSite: cfg.same_site,
    ...(cfg.domain ? { domain: cfg.domain } : {}),
  });
}

/** True if the request carries the gateway's session cookie (opened or not). */
export function hasSessionCookie(c: Context, cfg: SessionConfig['cookie']): boolean {
  return getCookie(c, cfg.name) !== undefined;
}
