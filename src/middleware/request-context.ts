import type { AppContext } from '../app-env.ts';

/** The end user's IP: from the configured trusted-proxy header, else the runtime's peer. */
export function clientIpOf(c: AppContext): string | undefined {
  const { config, peerAddress } = c.var.gateway;
  const header = config.server.client_ip_header;
  if (header) {
    const value = c.req.header(header);
    if (!value) return undefined;
    // X-Forwarded-For is appended to by each hop: the last entry is the one our trusted
    // proxy saw. Earlier entries are client-controlled.
    const ip = header === 'x-forwarded-for' ? value.split(',').at(-1) : value;
    return ip?.trim() || undefined;
  }
  return peerAddress(c);
}

/**
 * Aborts when the request's work must stop: the runtime's shutdown deadline, or the client
 * closed the connection (no work may outlive its socket).
 */
export function requestSignal(c: AppContext): AbortSignal {
  const shutdown = c.var.gateway.shutdownSignal;
  const client = c.req.raw.signal;
  return shutdown ? AbortSignal.any([client, shutdown]) : client;
}
