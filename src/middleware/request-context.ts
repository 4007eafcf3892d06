import { resolveClientIp } from '../abuse/client-ip.ts';
import type { Context } from 'hono';
import type { AppContext } from '../app-env.ts';
import { RequestAbort, type AbortLike } from '../shared/abort.ts';

/**
 * The end user's IP: the runtime's peer, or what trusted proxies (`server.trusted_proxies`)
 * wrote in `server.client_ip_header` about the hops before them. An untrusted peer's
 * forwarded headers are ignored (src/abuse/client-ip.ts). Keys rate limits; forwarded to
 * Kratos as True-Client-Ip.
 */
export function clientIpOf(c: AppContext): string | undefined {
  const { config, peerAddress, abuse } = c.get('gateway');
  const headerName = config.server.client_ip_header;
  return resolveClientIp({ peer: peerAddress(c), trust: abuse.trust, headerName, headerValue: c.req.header(headerName) });
}

/** A request's abort state; `dispose` unhooks it from the shutdown and the client watch. */
export interface RequestSignal {
  signal: AbortLike;
  dispose(): void;
}

const noop = () => {};

/** The default `watchClient`: the request's own AbortSignal (Workers, tests, mounted apps). */
export function watchRequestSignal(c: Context, gone: () => void): () => void {
  const client = c.req.raw.signal;
  if (client.aborted) {
    gone();
    return noop;
  }
  client.addEventListener('abort', gone);
  return () => client.removeEventListener('abort', gone);
}

/**
 * Aborts when the request's work must stop: the runtime's shutdown deadline, or the client
 * closed the connection (no work may outlive its socket). Neither is an `AbortSignal.any` or a
 * listener per request on the shutdown signal (20–50 µs a call on Node 20, and a weak
 * reference per request): the state joins the gateway's in-flight set, which the shutdown
 * aborts, and the runtime's `watchClient` reports the client leaving. The state is a
 * `RequestAbort`, which makes an AbortSignal only if something asks for one.
 */
export function requestSignal(c: AppContext): RequestSignal {
  const { shutdownSignal: shutdown, inFlight, watchClient } = c.get('gateway');
  if (!shutdown) return { signal: c.req.raw.signal, dispose: noop };
  const state = new RequestAbort();
  if (shutdown.aborted) {
    state.abort();
    return { signal: state, dispose: noop };
  }
  inFlight.add(state);
  const unwatch = watchClient(c, () => state.abort());
  return {
    signal: state,
    dispose: () => {
      inFlight.delete(state);
      unwatch();
    },
  };
}
