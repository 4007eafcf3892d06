import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import { watchRequestSignal } from '../middleware/request-context.ts';
import { setHeader } from '../shared/response.ts';

/**
 * The client left before its answer was written: the response's socket closed unfinished (what
 * @hono/node-server's own abort uses), watched on the ServerResponse rather than through the
 * request's AbortSignal and EventTarget listeners.
 */
export function watchNodeClient(c: Context, gone: () => void): () => void {
  const { incoming, outgoing } = (c.env ?? {}) as Partial<HttpBindings>;
  if (!incoming || !outgoing) return watchRequestSignal(c, gone);
  const onClose = () => {
    if (incoming.errored || !outgoing.writableFinished) gone();
  };
  if (outgoing.closed) {
    onClose();
    return () => {};
  }
  // `on`, not `once` (a wrapper per request): the listener is removed when the request is done.
  outgoing.on('close', onClose);
  return () => outgoing.off('close', onClose);
}

/**
 * Sets a header on the ServerResponse itself, where the answer will be written, after the
 * app made it: cheaper than adding it to a finished Response (issue 16). Node merges these
 * headers with the Response's own when the answer is written (the Response's win).
 */
export function setNodeResponseHeader(c: Context, name: string, value: string): void {
  const outgoing = (c.env as Partial<HttpBindings> | undefined)?.outgoing;
  if (outgoing && !outgoing.headersSent) outgoing.setHeader(name, value);
  else setHeader(c, name, value);
}
