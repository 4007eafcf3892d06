import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * Answers without a Headers object (issue 16). A header set with Hono's `c.header()` before the
 * answer is made costs a Headers object, which @hono/node-server then copies back into a plain
 * object; `jsonResponse` gives its headers (Content-Type, X-Request-Id) as a plain object instead.
 *
 * That is only right when nothing set a header for the coming answer: code that does calls
 * `setHeader` (or `headersWillBeSet` before a Hono helper such as `setCookie`), never
 * `c.header()` alone, and then the answer is made through Hono, which merges them in
 * (test/unit/response-headers.test.ts keeps it so).
 */
const withPreparedHeaders = new WeakSet<Context>();
const carriesRequestId = new WeakSet<Response>();

/** Sets a header of this request's answer. */
export function setHeader(c: Context, name: string, value: string, options?: { append: boolean }): void {
  withPreparedHeaders.add(c);
  c.header(name, value, options);
}

/** Call before a Hono helper that sets answer headers itself (`setCookie`, `deleteCookie`). */
export function headersWillBeSet(c: Context): void {
  withPreparedHeaders.add(c);
}

/** A JSON (or problem+json) answer, with `extra` headers, and the request id. */
export function jsonResponse(c: Context, text: string, status: number, contentType: string, extra?: Record<string, string>): Response {
  if (withPreparedHeaders.has(c)) {
    return c.newResponse(text, status as ContentfulStatusCode, Object.assign({}, extra, { 'Content-Type': contentType }));
  }
  const headers: Record<string, string> = Object.assign({ 'content-type': contentType, 'x-request-id': (c.get('requestId') as string | undefined) ?? '' }, extra);
  const res = new Response(text, { status, headers });
  carriesRequestId.add(res);
  return res;
}

/** Whether `res` was made by `jsonResponse` with the request id in it already. */
export function carriesItsRequestId(res: Response): boolean {
  return carriesRequestId.has(res);
}
