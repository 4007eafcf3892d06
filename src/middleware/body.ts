import type { z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { HTTPException } from 'hono/http-exception';
import type { AppContext, AppEnv } from '../app-env.ts';
import { AppError, validationError } from '../errors.ts';
import { isHtmlFormPost } from '../session/delivery.ts';
import { zodIssuesToFieldErrors } from '../shared/zod-issues.ts';

/**
 * Request bodies: the one place where "the gateway could not read what the client sent"
 * becomes a 4xx problem. Every route that reads a body registers `acceptBody` in front of its
 * OpenAPI route: it checks JSON bodies before the route's zod validator parses them and parses
 * HTML form posts itself; `bodyProblem` maps what Hono's own validators throw. No detail ever
 * quotes the body.
 */

/** Deeper than this is refused: traits are a few levels deep, and JSON.stringify recurses. */
export const MAX_BODY_DEPTH = 32;

// What Hono's json validator parses (on the media type, parameters removed).
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/;

// The Content-Type (parameters included) that zod-openapi's media-type gate lets through to a
// JSON body; anything else takes the route's own path, which answers 415.
const JSON_REQUEST = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;

const FORM_MEDIA_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data'] as const;
type FormMediaType = (typeof FORM_MEDIA_TYPES)[number];

const utf8 = new TextDecoder('utf-8', { fatal: true });
const NOT_UTF8 = 'The request body is not valid UTF-8. JSON is always sent as UTF-8, whatever the charset parameter says.';

function mediaTypeOf(c: AppContext): string | undefined {
  const header = c.req.header('content-type');
  if (header === undefined || header === 'application/json') return header;
  return header.split(';')[0]?.trim().toLowerCase();
}

/** Depth of `{`/`[` nesting outside strings; stops counting once past `limit`. */
export function jsonNestingDepth(text: string, limit = MAX_BODY_DEPTH): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) {
      inString = true;
    } else if (ch === 0x7b || ch === 0x5b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (ch === 0x7d || ch === 0x5d) {
      depth--;
    }
  }
  return max;
}

/**
 * A JSON body must be UTF-8 (RFC 8259; a `charset` parameter changes nothing, and decoding
 * leniently would turn bad bytes into U+FFFD inside a name) and nested at most MAX_BODY_DEPTH
 * deep. Hono caches the bytes read here, so the route's validator does not read them again.
 * Synchronous, on the bytes `c.req.arrayBuffer()` gave (no async frame of its own).
 */
function checkJsonBody(c: AppContext, bytes: ArrayBuffer): string {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new AppError('INVALID_JSON', { detail: NOT_UTF8 });
  }
  if (jsonNestingDepth(text) > MAX_BODY_DEPTH) {
    throw new AppError('INVALID_BODY', { detail: `The request body is nested more than ${MAX_BODY_DEPTH} levels deep.` });
  }
  // The validator's `c.req.json()` parses the cached text: without this it would build a
  // Response from the cached bytes and decode them a second time.
  // (Hono keeps promises in `bodyCache`; its type says plain values.)
  (c.req.bodyCache as unknown as { text?: Promise<string> }).text = Promise.resolve(text);
  return text;
}

/** True if the body starts like JSON (`{`, `[`, or their URL-encoded forms), after a BOM and whitespace. */
function looksLikeJson(bytes: Uint8Array): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  const first = bytes[i];
  if (first === 0x7b || first === 0x5b) return true;
  // `%7B` / `%5B`: JSON sent through --data-urlencode or encodeURIComponent.
  const hex = String.fromCharCode(bytes[i + 1] ?? 0, bytes[i + 2] ?? 0).toUpperCase();
  return first === 0x25 && (hex === '7B' || hex === '5B');
}

/**
 * Parses a form post (dotted names such as `traits.email` become nested objects). A body that
 * is plainly JSON under a form type (what `curl -d` and jQuery send by default) is a 415 that
 * says so, rather than a form whose only field name is the whole JSON text; a body that does
 * not parse as the declared type is a 400.
 */
export async function readFormBody(c: AppContext): Promise<Record<string, unknown>> {
  const type = FORM_MEDIA_TYPES.find((t) => t === mediaTypeOf(c)) as FormMediaType;
  // Only the media type (one of two constants) is named in the detail, never the body.
  if (looksLikeJson(new Uint8Array(await c.req.arrayBuffer()))) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', { detail: `The body is JSON but Content-Type says ${type}; send Content-Type: application/json.` });
  }
  try {
    return await c.req.parseBody({ dot: true });
  } catch {
    // A broken multipart body, a missing boundary, names nested too deeply.
    throw new AppError('INVALID_BODY', { detail: `The request body could not be parsed as ${type}.` });
  }
}

/**
 * The body of a route that takes JSON or a plain HTML form, registered before the OpenAPI route.
 * A form post is read by `readFormBody`, prepared (`prepare`, e.g. "on" → true), validated with
 * the route's own schema and handed to the same handler as a JSON body. A JSON body is checked
 * (`checkJsonBody`) and goes on to the OpenAPI route, whose validator parses it; any other
 * Content-Type goes on to its media-type gate (415).
 */
export function acceptBody<T>(
  schema: z.ZodType<T>,
  handle: (c: AppContext, body: T) => Promise<Response>,
  prepare: (form: Record<string, unknown>) => Record<string, unknown> = (form) => form,
  /** The route's request-header schema, if it has one (checked first, as its validator would). */
  headers?: z.ZodObject,
): MiddlewareHandler<AppEnv> {
  const headerNames = headers ? Object.keys(headers.shape) : [];
  return async (c, next) => {
    if (!isHtmlFormPost(c)) {
      const type = mediaTypeOf(c);
      if (type === undefined || !JSON_MEDIA_TYPE.test(type)) return next();
      let bytes: ArrayBuffer;
      try {
        bytes = await c.req.arrayBuffer();
      } catch {
        throw new AppError('INVALID_JSON', { detail: NOT_UTF8 });
      }
      const text = checkJsonBody(c, bytes);
      // With a query string the OpenAPI route validates it too: let its validators run.
      if (c.req.url.includes('?')) return next();
      const header = c.req.header('content-type');
      if (header !== 'application/json' && !JSON_REQUEST.test(header ?? '')) return next();
      // Otherwise parse and validate here, once and synchronously, rather than in the route's
      // validator layers (issue 16). Same schemas, same order (headers, then the body), same
      // problems: INVALID_JSON, or VALIDATION_FAILED with the route's pointers.
      if (headers) {
        const given: Record<string, string> = {};
        for (const name of headerNames) {
          const value = c.req.header(name);
          if (value !== undefined) given[name] = value;
        }
        const checked = headers.safeParse(given);
        if (!checked.success) throw validationError(zodIssuesToFieldErrors(checked.error.issues, undefined, ['header']));
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new AppError('INVALID_JSON');
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) throw validationError(zodIssuesToFieldErrors(parsed.error.issues, json));
      return handle(c, parsed.data);
    }
    const form = prepare(await readFormBody(c));
    const parsed = schema.safeParse(form);
    if (!parsed.success) throw validationError(zodIssuesToFieldErrors(parsed.error.issues, form));
    return handle(c, parsed.data);
  };
}

/**
 * What Hono's validators throw about bodies, as our problems: an unparseable JSON body (400),
 * an unsupported or missing Content-Type (415, from zod-openapi's media-type gate), too large (413).
 */
export function bodyProblem(c: AppContext, err: HTTPException): AppError | undefined {
  switch (err.status) {
    case 400:
      return new AppError('INVALID_JSON');
    case 413:
      return new AppError('PAYLOAD_TOO_LARGE');
    case 415:
      return new AppError('UNSUPPORTED_MEDIA_TYPE', {
        detail:
          c.req.header('content-type') === undefined
            ? 'The request has a body but no Content-Type; send Content-Type: application/json.'
            : 'This Content-Type is not accepted here; send Content-Type: application/json.',
      });
    default:
      return undefined;
  }
}
