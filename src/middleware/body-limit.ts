import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit as streamingBodyLimit } from 'hono/body-limit';
import type { AppEnv } from '../app-env.ts';
import { AppError } from '../errors.ts';

/**
 * Refuses request bodies over `maxBody` bytes with 413 PAYLOAD_TOO_LARGE. `fits` decides from
 * the headers alone, synchronously (throws when Content-Length is too large, false when the body
 * must be counted as it streams); `counted` is the middleware that counts it.
 */
export interface BodyLimit {
  fits(c: Context): boolean;
  counted: MiddlewareHandler<AppEnv>;
}

export function bodyLimit(maxBody: number): BodyLimit {
  const counted = streamingBodyLimit({
    maxSize: maxBody,
    onError: () => {
      throw new AppError('PAYLOAD_TOO_LARGE');
    },
  });
  return {
    // Fast path from the headers alone: Hono's bodyLimit reads `c.req.raw.body`, which makes
    // @hono/node-server build a full Request for every call (measured as a hot spot in the
    // benchmark). Only a body without a trustworthy Content-Length needs the counting stream.
    // A body without Content-Length (chunked, HTTP/2, other runtimes) is counted as it streams.
    fits(c) {
      const method = c.req.method;
      if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return true;
      const length = c.req.header('content-length');
      if (length === undefined || c.req.header('transfer-encoding') !== undefined) return false;
      if (!/^\d+$/.test(length) || Number(length) > maxBody) throw new AppError('PAYLOAD_TOO_LARGE');
      return true;
    },
    counted,
  };
}
