import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { jsonResponse } from './shared/response.ts';

/**
 * The one registry of stable error codes. Request-level codes are the top-level `code` of a
 * problem document and carry their HTTP status (and `Retry-After` seconds, when a retry is
 * worth it); field-level codes appear in `errors[].code` and have no status. The OpenAPI
 * document lists them from here, so clients can switch on them.
 */
export const errorCodes = {
  // request level
  VALIDATION_FAILED: { status: 400, message: 'One or more values in the request are invalid.' },
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  INVALID_BODY: { status: 400, message: 'The request body could not be parsed.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request body must be sent as application/json.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time; the connection was closed. Send it again.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request line and headers are too large.' },
  EXPECTATION_FAILED: { status: 417, message: 'Only `Expect: 100-continue` is supported.' },
  MALFORMED_REQUEST: { status: 400, message: 'The request is not valid HTTP.' },
  NOT_FOUND: { status: 404, message: 'There is no such route.' },
  INVALID_AUTHORIZATION: { status: 400, message: 'The Authorization or X-Session-Token header is malformed.' },
  SESSION_ALREADY_AVAILABLE: { status: 400, message: 'A valid session was sent with the request; sign out first.' },
  UNAUTHENTICATED: { status: 401, message: 'No valid session was sent with the request.' },
  INVALID_CREDENTIALS: { status: 401, message: 'The identifier or the password is wrong.' },
  ORIGIN_NOT_ALLOWED: { status: 403, message: 'The request comes from an origin that is not allowed to call this gateway.' },
  RETURN_TO_NOT_ALLOWED: { status: 400, message: 'The return_to URL is not on the allow-list.' },
  SERVICE_UNAVAILABLE: { status: 503, retryAfter: 5, message: 'A service the sign-up depends on is unavailable; nothing was created. Retry later.' },
  SERVICE_FAILED: { status: 502, message: 'A service the sign-up depends on failed; nothing was created.' },
  SIGNUP_ROLLED_BACK: { status: 503, retryAfter: 5, message: 'The sign-up did not happen: a required step failed and the account was removed again. Retry the request.' },
  ROLLBACK_FAILED: { status: 500, message: 'The sign-up failed and could not be fully undone; the operators have been alerted.' },
  INVALID_IDEMPOTENCY_KEY: { status: 400, message: 'The Idempotency-Key header is malformed (1–255 printable characters).' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, retryAfter: 1, message: 'A request with this Idempotency-Key is still being processed; retry later.' },
  IDEMPOTENCY_KEY_MISMATCH: { status: 422, message: 'This Idempotency-Key was used with a different request body.' },
  STATE_UNAVAILABLE: { status: 503, retryAfter: 2, message: 'Requests with an Idempotency-Key cannot be handled right now (the shared store is unavailable); nothing was created. Retry later.' },
  REQUEST_ABORTED: { status: 503, retryAfter: 1, message: 'The request was cut short (the gateway is shutting down, or the client went away); nothing was kept. Retry the request.' },
  SIGNUP_OUTCOME_UNKNOWN: { status: 503, retryAfter: 5, message: 'The identity service did not confirm whether the account was created; the operators have been alerted. Try signing in, or retry later.' },
  FLOW_EXPIRED: { status: 503, retryAfter: 1, message: 'The sign-up flow expired repeatedly; retry the request.' },
  KRATOS_UNAVAILABLE: { status: 503, retryAfter: 5, message: 'The identity service is unavailable; retry later.' },
  UPSTREAM_ERROR: { status: 502, message: 'The identity service answered in an unexpected way.' },
  NOT_SUPPORTED_BY_KRATOS: { status: 501, message: 'The identity service this gateway runs against is too old for this feature; nothing was done.' },
  INTERNAL_ERROR: { status: 500, message: 'The gateway failed unexpectedly.' },
  // abuse resistance (src/abuse/): Retry-After is computed per answer from the window that ran out
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry after the time given in Retry-After.' },
  LIMITER_UNAVAILABLE: { status: 503, retryAfter: 2, message: 'The request cannot be checked against the rate limits right now (the shared store is unavailable); nothing was done. Retry later.' },
  // Settings and re-authentication (issue 13).
  REAUTHENTICATION_REQUIRED: { status: 403, message: 'This change needs a recent sign-in; sign in again with `refresh: true` and retry.' },
  SECOND_FACTOR_REQUIRED: { status: 403, message: 'This session must complete the second factor first.' },
  // Recovery (issue 13): both are answered by requesting a new code with POST /v1/recovery.
  RECOVERY_EXPIRED: { status: 410, message: 'The recovery flow or its code has expired, or the code was already used. Request a new code with POST /v1/recovery.' },
  RECOVERY_ATTEMPTS_EXCEEDED: { status: 410, message: 'Too many codes were tried on this recovery flow. Request a new code with POST /v1/recovery.' },
  RECOVERY_IN_PROGRESS: { status: 409, retryAfter: 1, message: 'Another request for this recovery flow is still being processed; retry later.' },
  // verification (issue 13): every one of these is answered by requesting a new code
  VERIFICATION_FLOW_EXPIRED: { status: 410, message: 'The verification flow is unknown or has expired. Request a new code with POST /v1/verification (without `flow`).' },
  CODE_EXPIRED: { status: 410, message: 'The code has expired. Request a new code with POST /v1/verification.' },
  CODE_ATTEMPTS_EXCEEDED: { status: 410, message: 'Too many codes were tried on this verification flow. Request a new code with POST /v1/verification (without `flow`).' },
  VERIFICATION_ALREADY_DONE: { status: 410, message: 'This verification flow has already been completed. To verify again, request a new code with POST /v1/verification.' },
  // second factor and passwordless code (issue 14); SECOND_FACTOR_REQUIRED (above) also answers a login
  // whose account has a second factor, with `handle` and `methods`.
  // A wrong, expired or exhausted code answers with CODE_INVALID, CODE_EXPIRED, CODE_ATTEMPTS_EXCEEDED (issue 13's codes).
  HANDLE_INVALID: { status: 400, message: 'The handle is invalid or has expired; start again.' },
  SECOND_FACTOR_ALREADY_ENROLLED: { status: 409, message: 'This second factor is set up already; remove it first to set it up again.' },
  SECOND_FACTOR_NOT_ENROLLED: { status: 409, message: 'This second factor is not set up.' },
  // field level
  REQUIRED: { message: 'A required value is missing.' },
  INVALID_TYPE: { message: 'The value has the wrong type.' },
  INVALID_VALUE: { message: 'The value is not allowed.' },
  INVALID_EMAIL: { message: 'The value is not a valid email address.' },
  INVALID_FORMAT: { message: 'The value does not have the expected format.' },
  PATTERN_MISMATCH: { message: 'The value does not match the required pattern.' },
  TOO_SHORT: { message: 'The value is too short.' },
  TOO_LONG: { message: 'The value is too long.' },
  OUT_OF_RANGE: { message: 'The value is outside the allowed range.' },
  UNKNOWN_FIELD: { message: 'The request contains a property that is not allowed.' },
  MUST_BE_ACCEPTED: { message: 'This box must be checked.' },
  IDENTIFIER_TAKEN: { message: 'An account with this identifier exists already.' },
  PASSWORD_TOO_SHORT: { message: 'The password is too short.' },
  PASSWORD_TOO_LONG: { message: 'The password is too long.' },
  PASSWORD_TOO_SIMILAR: { message: 'The password is too similar to the identifier.' },
  PASSWORD_BREACHED: { message: 'The password was found in data breaches.' },
  PASSWORD_POLICY: { message: 'The password does not meet the password policy.' },
  KRATOS_MESSAGE: { message: 'Kratos reported a problem with the submitted data.' },
  SERVICE_REJECTED: { message: 'An external check declined this value.' },
  CODE_INVALID: { message: 'The code is wrong or has already been used.' },
  METHOD_NOT_ENROLLED: { message: 'This second factor is not set up for the account.' },
} as const satisfies Record<string, ErrorCodeEntry>;

interface ErrorCodeEntry {
  /** HTTP status; only request-level codes have one. */
  status?: ContentfulStatusCode;
  /** Seconds for `Retry-After`, sent with every answer of this code. */
  retryAfter?: number;
  /** What the code means, in user terms (the default `detail` / field message). */
  message: string;
}

export type ErrorCode = keyof typeof errorCodes;

/** Codes that can be a problem document's top-level `code` (they have a status). */
export type RequestErrorCode = { [K in ErrorCode]: (typeof errorCodes)[K] extends { status: number } ? K : never }[ErrorCode];

/** The user-facing wording of a code. */
export function errorMessage(code: ErrorCode): string {
  return errorCodes[code].message;
}

/** One entry of a problem document's `errors` list. */
export interface FieldError {
  /** JSON pointer into the request body ("" for the whole request). */
  pointer: string;
  code: ErrorCode;
  message: string;
  kratos?: { id: number };
}

export interface AppErrorOptions {
  /** Replaces the registry's wording; never quotes what the client sent. */
  detail?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
  /** Extra members of the problem document (RFC 9457 §3.2), e.g. `handle` and `methods`. */
  extensions?: Record<string, unknown>;
}

/**
 * The one error type routes throw; `onError` turns it into application/problem+json. Status
 * and `Retry-After` come from the registry, so a throw site names only the code.
 */
export class AppError extends Error {
  readonly status: ContentfulStatusCode;
  readonly detail: string;
  readonly errors: FieldError[];
  readonly headers: Record<string, string>;
  readonly extensions: Record<string, unknown>;

  constructor(
    readonly code: RequestErrorCode,
    options: AppErrorOptions = {},
  ) {
    const entry: ErrorCodeEntry = errorCodes[code];
    const detail = options.detail ?? entry.message;
    super(detail);
    this.name = 'AppError';
    this.status = entry.status ?? 500;
    this.detail = detail;
    this.errors = options.errors ?? [];
    this.extensions = options.extensions ?? {};
    this.headers = entry.retryAfter === undefined ? { ...options.headers } : { 'Retry-After': String(entry.retryAfter), ...options.headers };
  }
}

/** A 400 VALIDATION_FAILED carrying field errors. */
export function validationError(errors: FieldError[]): AppError {
  return new AppError('VALIDATION_FAILED', { errors });
}

const titles: Partial<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  417: 'Expectation Failed',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  request_id: string;
  errors: FieldError[];
}

export function toProblem(err: AppError, requestId: string): ProblemDocument {
  return {
    ...err.extensions,
    type: `urn:kratos-bff:problem:${err.code.toLowerCase().replaceAll('_', '-')}`,
    title: titles[err.status] ?? 'Error',
    status: err.status,
    code: err.code,
    detail: err.detail,
    request_id: requestId,
    errors: err.errors,
  };
}

/**
 * Writes the problem document. Headers that middleware already set for the answer (CORS,
 * Set-Cookie) are kept (see `jsonResponse`).
 */
export function problemResponse(c: Context, err: AppError): Response {
  const requestId = (c.get('requestId') as string | undefined) ?? '';
  return jsonResponse(c, JSON.stringify(toProblem(err, requestId)), err.status, 'application/problem+json', err.headers);
}
