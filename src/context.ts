import type { Context } from 'hono';
import type { RequestIdVariables } from 'hono/request-id';
import type { GatewayConfig } from './config.ts';
import { AppError } from './errors.ts';
import type { ForwardedClient, KratosPort } from './kratos/client.ts';
import type { Logger } from './log.ts';

/** What a runtime hands to `createApp`: real parts on Node/Workers, fakes in unit tests. */
export interface AppDeps {
  config: GatewayConfig;
  kratos: KratosPort;
  logger: Logger;
  /** Milliseconds since the epoch; pinned in tests. */
  now?: () => number;
  /** The connection's peer address as the runtime sees it (Node: socket; Workers: CF-Connecting-IP). */
  peerAddress?: (c: Context) => string | undefined;
}

export type AppEnv = {
  Variables: RequestIdVariables & {
    deps: AppDeps;
    /** Request-scoped logger carrying the request id. */
    log: Logger;
  };
};

export type AppContext = Context<AppEnv>;

// Kratos session tokens are opaque ASCII; anything else in these headers is refused
// rather than forwarded.
const tokenPattern = /^[A-Za-z0-9._~+/=-]{1,512}$/;

/**
 * The client's session token from `X-Session-Token` or `Authorization: Bearer`. Other
 * Authorization schemes are ignored; a malformed token is a 400.
 */
export function sessionTokenOf(c: AppContext): string | undefined {
  const raw = c.req.header('x-session-token');
  if (raw !== undefined && raw !== '') {
    if (!tokenPattern.test(raw)) throw new AppError(400, 'INVALID_AUTHORIZATION');
    return raw;
  }
  const auth = c.req.header('authorization');
  if (!auth) return undefined;
  const [scheme, token, ...rest] = auth.trim().split(/\s+/);
  if (scheme?.toLowerCase() !== 'bearer') return undefined;
  if (!token || rest.length > 0 || !tokenPattern.test(token)) throw new AppError(400, 'INVALID_AUTHORIZATION');
  return token;
}

/** The end user's IP: from the configured trusted-proxy header, else the runtime's peer. */
export function clientIpOf(c: AppContext): string | undefined {
  const header = c.var.deps.config.server.client_ip_header;
  if (header) {
    const value = c.req.header(header);
    if (!value) return undefined;
    // X-Forwarded-For is appended to by each hop: the last entry is the one our trusted
    // proxy saw. Earlier entries are client-controlled.
    const ip = header === 'x-forwarded-for' ? value.split(',').at(-1) : value;
    return ip?.trim() || undefined;
  }
  return c.var.deps.peerAddress?.(c);
}

/** What the gateway forwards to Kratos about this request. */
export function forwardedClient(c: AppContext): ForwardedClient {
  return {
    requestId: c.var.requestId,
    sessionToken: sessionTokenOf(c),
    clientIp: clientIpOf(c),
    userAgent: c.req.header('user-agent')?.slice(0, 512),
  };
}
