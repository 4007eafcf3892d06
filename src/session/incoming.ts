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
 * sealed under a removed secret) counts as no session.
 */
export async function incomingSession(c: AppContext): Promise<IncomingSession | undefined> {
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
  if (value && cookies) {
    const token = await cookies.open(value, now());
    if (token) return { token, via: 'cookie' };
  }
  return undefined;
}

/** What the gateway forwards to Kratos about this request, including the client's session. */
export async function forwardedClient(c: AppContext): Promise<ForwardedClient> {
  return {
    requestId: c.get('requestId'),
    sessionToken: (await incomingSession(c))?.token,
    clientIp: clientIpOf(c),
    userAgent: c.req.header('user-agent')?.slice(0, 512),
  };
}
