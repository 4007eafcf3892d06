import { getCookie } from 'hono/cookie';
import type { AppContext } from '../app-env.ts';
import { AppError } from '../errors.ts';
import type { ForwardedClient } from '../kratos/port.ts';
import { clientIpOf } from '../middleware/request-context.ts';

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
 * sealed under a removed secret) counts as no session. Only opening a cookie is asynchronous:
 * without one the answer comes at once, not as a promise (issue 16).
 */
export function incomingSession(c: AppContext): IncomingSession | undefined | Promise<IncomingSession | undefined> {
  const raw = c.req.header('x-session-token');
  if (raw !== undefined && raw !== '') {
    if (!tokenPattern.test(raw)) throw new AppError('INVALID_AUTHORIZATION');
    return { token: raw, via: 'header' };
  }
  const auth = c.req.header('authorization');
  if (auth) {
    const [scheme, token, ...rest] = auth.trim().split(/\s+/);
    if (scheme?.toLowerCase() === 'bearer') {
      if (!token || rest.length > 0 || !tokenPattern.test(token)) throw new AppError('INVALID_AUTHORIZATION');
      return { token, via: 'header' };
    }
  }
  const { config, cookies, now } = c.get('gateway');
  const value = getCookie(c, config.session.cookie.name);
  if (value && cookies) return cookies.open(value, now()).then((token) => (token ? { token, via: 'cookie' as const } : undefined));
  return undefined;
}

function clientWith(c: AppContext, session: IncomingSession | undefined): ForwardedClient {
  return {
    requestId: c.get('requestId'),
    sessionToken: session?.token,
    clientIp: clientIpOf(c),
    userAgent: c.req.header('user-agent')?.slice(0, 512),
  };
}

/**
 * What the gateway forwards to Kratos about this request, including the client's session: at
 * once, or a promise when a session cookie has to be opened.
 */
export function forwardedClient(c: AppContext): ForwardedClient | Promise<ForwardedClient> {
  const session = incomingSession(c);
  return session instanceof Promise ? session.then((s) => clientWith(c, s)) : clientWith(c, session);
}
