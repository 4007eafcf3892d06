import { z } from 'zod';
import { errorCodes, type ErrorCode } from '../errors.ts';
import { isValidDotPath, placeholderProblem, placeholdersOf } from './template.ts';

/**
 * The config of external services called before and after identity creation: an ordered
 * list, meant to be nested under `registration.services` of the gateway config. Values
 * arrive with `${ENV}` references already resolved, so header values may be secrets: this
 * module never puts them in an error message.
 */

/** Field-error code of a service rejection when the config names none. */
export const DEFAULT_REJECTION_CODE: ErrorCode = 'SERVICE_REJECTED';

/** Message of a rejection whose response carried no usable error. */
export const GENERIC_REJECTION_MESSAGE = 'The sign-up was declined by an external check.';

const serviceName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'service names are lower_snake_case, at most 64 characters');

const jsonPointer = z
  .string()
  .max(512)
  .refine((p) => p === '' || p.startsWith('/'), { error: 'must be a JSON pointer ("" or starting with "/")' });

const dotPath = z
  .string()
  .refine(isValidDotPath, { error: 'must be a dot path like "data.id" (letters, digits, "_", "-"; no __proto__, constructor or prototype)' });

const errorCode = z.enum(Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]], {
  error: 'must be a code from the error registry (src/errors.ts)',
});

// RFC 9110 token characters; values without CR/LF/NUL so a value cannot smuggle a header.
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/, 'is not a valid header name');
const headerValue = z.string().refine((v) => !/[\r\n\0]/.test(v), { error: 'must not contain CR, LF or NUL' });

// The gateway sets these itself on every attempt; a configured value would break the
// per-attempt id, the idempotency contract or the JSON body.
const reservedHeaders = new Set(['idempotency-key', 'x-request-id', 'content-type', 'content-length', 'host']);

/**
 * Placeholders may appear in the path and query only: the scheme, host and port are fixed at
 * start, so no sign-up value can send the request (and its secret headers) elsewhere.
 */
function urlTemplateProblem(url: string): string | null {
  const first = url.indexOf('{{');
  const fixed = first === -1 ? url : url.slice(0, first);
  if (first !== -1 && !/^https?:\/\/[^/?#{}]+[/?#]/i.test(fixed)) {
    return 'placeholders are allowed in the path and query only, after a fixed http(s)://host/';
  }
  let parsed: URL;
  try {
    parsed = new URL(url.replace(/\{\{[^{}]*\}\}/g, 'x'));
  } catch {
    return 'must be an http(s) URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http(s) URL';
  if (parsed.username || parsed.password) return 'must not contain credentials (use headers)';
  return null;
}

const httpSchema = z
  .object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
    url: z.string().superRefine((url, ctx) => {
      const problem = urlTemplateProblem(url);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    /** Static headers; values may hold secrets and are never logged. */
    headers: z
      .record(headerName, headerValue)
      .default({})
      .transform((h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]))),
    /** A JSON template of the request body. */
    body: z.json().optional(),
  })
  .strict()
  .superRefine((http, ctx) => {
    for (const name of Object.keys(http.headers)) {
      if (reservedHeaders.has(name)) ctx.addIssue({ code: 'custom', path: ['headers', name], message: 'is set by the gateway' });
    }
    if (http.method === 'GET' && http.body !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['body'], message: 'a GET request cannot have a body' });
    }
  });

const rejectionSchema = z
  .object({
    pointer: jsonPointer.optional(),
    message: z.string().min(1).max(500).optional(),
    code: errorCode.optional(),
    from_body: z
      .object({
        /** Dot path to an array of errors in the JSON response. */
        errors_path: dotPath,
        pointer_key: dotPath.default('pointer'),
        message_key: dotPath.default('message'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const fixed = r.pointer !== undefined || r.message !== undefined;
    if (fixed && r.from_body) {
      ctx.addIssue({ code: 'custom', message: 'give either pointer + message, or from_body, not both' });
    } else if (!fixed && !r.from_body) {
      ctx.addIssue({ code: 'custom', message: 'give either pointer + message, or from_body' });
    } else if (fixed && (r.pointer === undefined || r.message === undefined)) {
      ctx.addIssue({ code: 'custom', path: [r.pointer === undefined ? 'pointer' : 'message'], message: 'is required with a fixed rejection' });
    }
  });

const metadataMap = z.record(z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'metadata keys are letters, digits and "_"'), dotPath);

const saveSchema = z
  .object({
    /** metadata key → dot path into the JSON response. */
    metadata_public: metadataMap.optional(),
    metadata_admin: metadataMap.optional(),
  })
  .strict();

const onFailure = z.enum(['abort', 'rollback', 'continue', 'retry_later']);

/** What a failure of a service does: `abort` (before), `rollback` | `continue` | `retry_later` (after). */
export type OnFailure = z.infer<typeof onFailure>;

const serviceSchema = z
  .object({
    name: serviceName,
    /**
     * `existing_account` (issue 13): called in the background when an enumeration-safe sign-up
     * finds the address taken, so the owner can be told out of band; its outcome never changes
     * the answer.
     */
    stage: z.enum(['before', 'after', 'existing_account'], { error: 'must be "before", "after" or "existing_account"' }),
    /** Adjacent concurrent services of a stage run together; the stage waits for the slowest. */
    concurrent: z.boolean().default(false),
    timeout_ms: z.number().int().min(10).max(120_000).default(5000),
    /** Extra attempts on network errors, timeouts, 5xx and 429. */
    retries: z.number().int().min(0).max(10).default(2),
    /** Base of the exponential backoff with full jitter between attempts. */
    retry_backoff_ms: z.number().int().min(0).max(60_000).default(200),
    /** Longest Retry-After the gateway waits for; a longer one ends the retries. */
    retry_after_cap_ms: z.number().int().min(0).max(60_000).default(5000),
    on_failure: onFailure.optional(),
    http: httpSchema.optional(),
    /** Name of a TypeScript function registered with the runner, instead of `http`. */
    function: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be an identifier').optional(),
    /** Response statuses that mean "the service declined this sign-up" (a field error, no retry). */
    rejected_statuses: z
      .array(
        z
          .number()
          .int()
          .min(400, 'rejected statuses are 4xx')
          .max(499, 'rejected statuses are 4xx')
          .refine((s) => s !== 429, { error: '429 means "retry later", not a rejection' }),
      )
      .optional(),
    rejection: rejectionSchema.optional(),
    save: saveSchema.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.http === undefined) === (s.function === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of http or function' });
    }
    if (s.function !== undefined) {
      // A function returns its own outcome; HTTP status mapping does not apply to it.
      if (s.rejected_statuses) ctx.addIssue({ code: 'custom', path: ['rejected_statuses'], message: 'applies to http services only' });
      if (s.rejection) ctx.addIssue({ code: 'custom', path: ['rejection'], message: 'applies to http services only' });
    }
    if (s.stage === 'before' && s.on_failure !== undefined && s.on_failure !== 'abort') {
      ctx.addIssue({ code: 'custom', path: ['on_failure'], message: 'a before service can only abort (nothing exists yet to roll back or keep)' });
    }
    if (s.stage === 'after' && s.on_failure === 'abort') {
      ctx.addIssue({ code: 'custom', path: ['on_failure'], message: 'an after service uses rollback, continue or retry_later (the identity exists already)' });
    }
    if (s.stage === 'existing_account' && s.on_failure !== undefined && s.on_failure !== 'continue') {
      ctx.addIssue({ code: 'custom', path: ['on_failure'], message: 'an existing_account service can only continue (its outcome never changes the answer)' });
    }
    if (s.save && s.stage === 'existing_account') {
      ctx.addIssue({ code: 'custom', path: ['save'], message: 'is only possible for after services (metadata needs the identity)' });
    }
    if (s.save && s.stage === 'before') {
      ctx.addIssue({ code: 'custom', path: ['save'], message: 'is only possible for after services (metadata needs the identity)' });
    }
    if (s.save && s.on_failure === 'retry_later') {
      // A background success has no sign-up left to write metadata into.
      ctx.addIssue({ code: 'custom', path: ['save'], message: 'cannot be combined with on_failure: retry_later' });
    }
    if (s.http) {
      const uses = [
        ...placeholdersOf(s.http.url, ['http', 'url']),
        ...placeholdersOf(s.http.body, ['http', 'body']),
      ];
      for (const use of uses) {
        const problem = placeholderProblem(use.path, s.stage);
        if (problem) ctx.addIssue({ code: 'custom', path: use.at, message: problem });
      }
    }
  })
  .transform((s) => ({
    ...s,
    on_failure: s.on_failure ?? (s.stage === 'before' ? 'abort' : s.stage === 'existing_account' ? 'continue' : 'rollback'),
    rejected_statuses: s.rejected_statuses ?? [400, 409, 422],
  }));

/** The ordered list of external services; nest it under `registration.services`. */
export const servicesConfigSchema = z
  .array(serviceSchema)
  .default([])
  .superRefine((services, ctx) => {
    const names = new Map<string, number>();
    const savedBy = new Map<string, string>();
    services.forEach((s, i) => {
      const seen = names.get(s.name);
      if (seen !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${s.name}" is already the name of service ${seen}` });
      names.set(s.name, i);
      for (const kind of ['metadata_public', 'metadata_admin'] as const) {
        for (const key of Object.keys(s.save?.[kind] ?? {})) {
          const other = savedBy.get(`${kind}.${key}`);
          if (other) ctx.addIssue({ code: 'custom', path: [i, 'save', kind, key], message: `is already saved by service "${other}"` });
          savedBy.set(`${kind}.${key}`, s.name);
        }
      }
    });
  });

/** The validated service list, defaults filled in. */
export type ServicesConfig = z.output<typeof servicesConfigSchema>;
/** One validated service. */
export type ServiceConfig = ServicesConfig[number];
/** The service list as written in the config file. */
export type ServicesConfigInput = z.input<typeof servicesConfigSchema>;
