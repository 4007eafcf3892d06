import type { Context } from 'hono';
import type { RequestIdVariables } from 'hono/request-id';
import type { GatewayConfig } from './config.ts';
import type { ForwardedClient, KratosPort } from './kratos/client.ts';
import type { Logger } from './shared/log.ts';
import type { HttpTransport } from './shared/http.ts';
import type { IdempotencyStore } from './idempotency/index.ts';
import type { ReturnToPolicy } from './after-jobs/return-to.ts';
import type { RetryQueue } from './services/retry-queue.ts';
import type { ServiceFunction, ServiceRunner } from './services/runner.ts';
import { incomingSession, type SessionCookies } from './session/delivery.ts';

/** What a runtime hands to `createApp`: real parts on Node/Workers, fakes in unit tests. */
export interface AppDeps {
  config: GatewayConfig;
  kratos: KratosPort;
  logger: Logger;
  /** Milliseconds since the epoch; pinned in tests. */
  now?: () => number;
  /** The connection's peer address as the runtime sees it (Node: socket; Workers: CF-Connecting-IP). */
  peerAddress?: (c: Context) => string | undefined;
  /** HTTP to external services (undici on Node, fetch on Workers). */
  transport: HttpTransport;
  /** Services registered as TypeScript functions, for config entries that say `function: name`. */
  serviceFunctions?: Record<string, ServiceFunction>;
  /** Idempotency-Key store; in-memory by default. Whatever it keeps is encrypted first. */
  idempotencyStore?: IdempotencyStore;
  /** Where `retry_later` services go; an in-memory queue by default (not durable). */
  retryQueue?: RetryQueue;
  /**
   * Aborted by the runtime at its shutdown deadline: in-flight sign-ups stop, roll back what
   * they created and answer 503 instead of being cut off.
   */
  shutdownSignal?: AbortSignal;
  /** Told about every identity a failed rollback left behind (the Node entry exits non-zero then). */
  onLeftBehind?: (identityId: string | undefined) => void;
}

export type AppEnv = {
  Variables: RequestIdVariables & {
    deps: AppDeps;
    /** Request-scoped logger carrying the request id. */
    log: Logger;
    /** Session cookie sealing; undefined without `secrets.session`. */
    cookies: SessionCookies | undefined;
    returnToPolicy: ReturnToPolicy;
    services: ServiceRunner;
    retryQueue: RetryQueue;
    idempotency: Promise<IdempotencyStore>;
  };
};

export type AppContext = Context<AppEnv>;

/** The end user's IP: from the configured trusted-proxy header, else the runtime's peer. */
export function clientIpOf(c: AppContext): string | undefined {
  const header = c.get('deps').config.server.client_ip_header;
  if (header) {
    const value = c.req.header(header);
    if (!value) return undefined;
    // X-Forwarded-For is appended to by each hop: the last entry is the one our trusted
    // proxy saw. Earlier entries are client-controlled.
    const ip = header === 'x-forwarded-for' ? value.split(',').at(-1) : value;
    return ip?.trim() || undefined;
  }
  return c.get('deps').peerAddress?.(c);
}

/**
 * Aborts when the request's work must stop: the runtime's shutdown deadline, or the client
 * closed the connection (no work may outlive its socket).
 */
export function requestSignal(c: AppContext): AbortSignal {
  const shutdown = c.get('deps').shutdownSignal;
  const client = c.req.raw.signal;
  return shutdown ? AbortSignal.any([client, shutdown]) : client;
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
