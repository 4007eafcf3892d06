import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import { watchRequestSignal } from '../middleware/request-context.ts';

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
  outgoing.once('close', onClose);
  return () => outgoing.off('close', onClose);
}
