import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * The one registry of stable error codes. Request-level codes are the top-level `code` of a
 * problem document; field-level codes appear in `errors[].code`. The OpenAPI document lists
 * them from here, so clients can switch on them.
 */
export const errorCodes = {
  // request level
  VALIDATION_FAILED: 'One or more values in the request are invalid.',
  INVALID_JSON: 'The request body is not valid JSON.',
  INVALID_BODY: 'The request body could not be parsed.',
  UNSUPPORTED_MEDIA_TYPE: 'The request body must be sent as application/json.',
  PAYLOAD_TOO_LARGE: 'The request body is too large.',
  REQUEST_TIMEOUT: 'The request was not received in time; the connection was closed. Send it again.',
  HEADERS_TOO_LARGE: 'The request line and headers are too large.',
  EXPECTATION_FAILED: 'Only `Expect: 100-continue` is supported.',
  MALFORMED_REQUEST: 'The request is not valid HTTP.',
  NOT_FOUND: 'There is no such route.',
  INVALID_AUTHORIZATION: 'The Authorization or X-Session-Token header is malformed.',
  SESSION_ALREADY_AVAILABLE: 'A valid session was sent with the request; sign out first.',
  UNAUTHENTICATED: 'No valid session was sent with the request.',
  INVALID_CREDENTIALS: 'The identifier or the password is wrong.',
  ORIGIN_NOT_ALLOWED: 'The request comes from an origin that is not allowed to call this gateway.',
  RETURN_TO_NOT_ALLOWED: 'The return_to URL is not on the allow-list.',
  SERVICE_UNAVAILABLE: 'A service the sign-up depends on is unavailable; nothing was created. Retry later.',
  SERVICE_FAILED: 'A service the sign-up depends on failed; nothing was created.',
  SIGNUP_ROLLED_BACK: 'The sign-up did not happen: a required step failed and the account was removed again. Retry the request.',
  ROLLBACK_FAILED: 'The sign-up failed and could not be fully undone; the operators have been alerted.',
  INVALID_IDEMPOTENCY_KEY: 'The Idempotency-Key header is malformed (1–255 printable characters).',
  IDEMPOTENCY_KEY_IN_USE: 'A request with this Idempotency-Key is still being processed; retry later.',
  IDEMPOTENCY_KEY_MISMATCH: 'This Idempotency-Key was used with a different request body.',
  REQUEST_ABORTED: 'The request was cut short (the gateway is shutting down, or the client went away); nothing was kept. Retry the request.',
  SIGNUP_OUTCOME_UNKNOWN: 'The identity service did not confirm whether the account was created; the operators have been alerted. Try signing in, or retry later.',
  FLOW_EXPIRED: 'The sign-up flow expired repeatedly; retry the request.',
  KRATOS_UNAVAILABLE: 'The identity service is unavailable; retry later.',
  UPSTREAM_ERROR: 'The identity service answered in an unexpected way.',
  INTERNAL_ERROR: 'The gateway failed unexpectedly.',
  // field level
  REQUIRED: 'A required value is missing.',
  INVALID_TYPE: 'The value has the wrong type.',
  INVALID_VALUE: 'The value is not allowed.',
  INVALID_EMAIL: 'The value is not a valid email address.',
  INVALID_FORMAT: 'The value does not have the expected format.',
  PATTERN_MISMATCH: 'The value does not match the required pattern.',
  TOO_SHORT: 'The value is too short.',
  TOO_LONG: 'The value is too long.',
  OUT_OF_RANGE: 'The value is outside the allowed range.',
  UNKNOWN_FIELD: 'The request contains a property that is not allowed.',
  MUST_BE_ACCEPTED: 'This box must be checked.',
  IDENTIFIER_TAKEN: 'An account with this identifier exists already.',
  PASSWORD_TOO_SHORT: 'The password is too short.',
  PASSWORD_TOO_LONG: 'The password is too long.',
  PASSWORD_TOO_SIMILAR: 'The password is too similar to the identifier.',
  PASSWORD_BREACHED: 'The password was found in data breaches.',
  PASSWORD_POLICY: 'The password does not meet the password policy.',
  KRATOS_MESSAGE: 'Kratos reported a problem with the submitted data.',
  SERVICE_REJECTED: 'An external check declined this value.',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof errorCodes;

/** One entry of a problem document's `errors` list. */
export interface FieldError {
  /** JSON pointer into the request body ("" for the whole request). */
  pointer: string;
  code: ErrorCode;
  message: string;
  kratos?: { id: number };
}

/** The one error type routes throw; `onError` turns it into application/problem+json. */
export class AppError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    readonly detail: string = errorCodes[code],
    readonly errors: FieldError[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'AppError';
  }
}

/** A 400 VALIDATION_FAILED carrying field errors. */
export function validationError(errors: FieldError[]): AppError {
  return new AppError(400, 'VALIDATION_FAILED', errorCodes.VALIDATION_FAILED, errors);
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
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
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
 * Writes the problem document. `c.newResponse` keeps headers that middleware already set
 * on the context (request id, CORS, Set-Cookie).
 */
export function problemResponse(c: Context, err: AppError): Response {
  const requestId = (c.get('requestId') as string | undefined) ?? '';
  return c.newResponse(JSON.stringify(toProblem(err, requestId)), err.status, {
    ...err.headers,
    'Content-Type': 'application/problem+json',
  });
}
