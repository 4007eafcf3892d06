import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { errorCodes, type ErrorCode } from '../errors.ts';

/**
 * Shared OpenAPI pieces: schemas, the security requirements, the standard headers and error
 * answers. Every route documents itself with these (see "Documenting a route" in
 * ARCHITECTURE.md); `registerOpenApiComponents` puts the shared components in the document.
 */

const codeEnum = z.enum(Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]]);

export const FieldErrorSchema = z
  .object({
    pointer: z.string().openapi({ example: '/traits/email', description: 'JSON pointer into the request body; "" for the whole request.' }),
    code: codeEnum,
    message: z.string(),
    kratos: z.object({ id: z.int() }).optional().openapi({ description: 'The Kratos UI message id this error came from.' }),
  })
  .openapi('FieldError');

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    code: codeEnum.openapi({
      description: Object.entries(errorCodes)
        .map(([k, v]) => `- \`${k}\`: ${v.message}`)
        .join('\n'),
    }),
    detail: z.string(),
    request_id: z.string(),
    errors: z.array(FieldErrorSchema),
  })
  .openapi('Problem');

export const problemContent = {
  'application/problem+json': { schema: ProblemSchema },
} as const;

// ── Kratos's identity and session (as Kratos v1.x answers them; @ory/client's Identity/Session) ──

const aal = z.enum(['aal0', 'aal1', 'aal2', 'aal3']).openapi('AuthenticatorAssuranceLevel');
const timestamp = z.string().openapi({ format: 'date-time' });

const VerifiableAddressSchema = z
  .looseObject({
    id: z.string().optional(),
    value: z.string(),
    verified: z.boolean(),
    via: z.string().openapi({ example: 'email' }),
    status: z.string().openapi({ example: 'pending' }),
    verified_at: timestamp.optional(),
    created_at: timestamp.optional(),
    updated_at: timestamp.optional(),
  })
  .openapi('VerifiableIdentityAddress');

const RecoveryAddressSchema = z
  .looseObject({
    id: z.string().optional(),
    value: z.string(),
    via: z.string().openapi({ example: 'email' }),
    created_at: timestamp.optional(),
    updated_at: timestamp.optional(),
  })
  .openapi('RecoveryIdentityAddress');

/** Kratos's identity as the gateway passes it on: never credentials or admin metadata. */
export const IdentitySchema = z
  .looseObject({
    id: z.string().openapi({ format: 'uuid' }),
    schema_id: z.string().openapi({ example: 'default' }),
    schema_url: z.string(),
    state: z.enum(['active', 'inactive']).optional(),
    state_changed_at: timestamp.optional(),
    traits: z.record(z.string(), z.unknown()).openapi({ description: 'As defined by the identity schema.', example: { email: 'ada@example.com' } }),
    verifiable_addresses: z.array(VerifiableAddressSchema).optional(),
    recovery_addresses: z.array(RecoveryAddressSchema).optional(),
    metadata_public: z.record(z.string(), z.unknown()).nullable().optional(),
    organization_id: z.string().nullable().optional(),
    created_at: timestamp.optional(),
    updated_at: timestamp.optional(),
  })
  .openapi('Identity', { description: 'The Kratos identity (without credentials or admin metadata).' });

const AuthenticationMethodSchema = z
  .looseObject({
    method: z.string().optional().openapi({ example: 'password' }),
    aal: aal.optional(),
    completed_at: timestamp.optional(),
    provider: z.string().optional(),
    organization: z.string().optional(),
  })
  .openapi('SessionAuthenticationMethod');

const DeviceSchema = z
  .looseObject({
    id: z.string(),
    ip_address: z.string().optional(),
    user_agent: z.string().optional(),
    location: z.string().optional(),
  })
  .openapi('SessionDevice');

export const SessionSchema = z
  .looseObject({
    id: z.string().openapi({ format: 'uuid' }),
    active: z.boolean().optional(),
    expires_at: timestamp.optional(),
    authenticated_at: timestamp.optional(),
    issued_at: timestamp.optional(),
    authenticator_assurance_level: aal.optional(),
    authentication_methods: z.array(AuthenticationMethodSchema).optional(),
    identity: IdentitySchema.optional(),
    devices: z.array(DeviceSchema).optional(),
    tokenized: z.string().optional(),
  })
  .openapi('Session', { description: 'The Kratos session.' });

// ── Security ──────────────────────────────────────────────────────────────────────────────

/** The three ways to send a session; each is a security scheme in the document. */
export const securitySchemes = { bearer: 'bearerAuth', token: 'sessionToken', cookie: 'sessionCookie' } as const;

/** `security` of an operation that needs a session: any one of the three. */
export const sessionSecurity = [{ [securitySchemes.bearer]: [] }, { [securitySchemes.token]: [] }, { [securitySchemes.cookie]: [] }];

/** `security` of an operation that works with or without a session (`{}`: anonymous is allowed). */
export const optionalSessionSecurity = [{}, ...sessionSecurity];

/**
 * `security` of an operation anyone may call. Sign-up and sign-in are such: a session sent
 * with them is only forwarded to Kratos, which refuses it (SESSION_ALREADY_AVAILABLE).
 */
export const noSecurity: Array<Record<string, string[]>> = [];

// ── Headers and error answers ───────────────────────────────────────────────────────────────

export type HeaderName = 'Retry-After' | 'Idempotent-Replayed' | 'RateLimit' | 'RateLimit-Policy' | 'Location' | 'Set-Cookie';

/** Response headers, each a component under `#/components/headers/<name>`. */
const headers: Record<HeaderName, { description: string; schema: { type: 'string' | 'integer'; minimum?: number; example?: unknown; enum?: string[] } }> = {
  'Retry-After': {
    description: 'Seconds to wait before retrying.',
    schema: { type: 'integer', minimum: 0, example: 5 },
  },
  'Idempotent-Replayed': {
    description: '`true` when this is the stored answer to an earlier request with the same Idempotency-Key.',
    schema: { type: 'string', enum: ['true'] },
  },
  RateLimit: {
    description: 'What is left of each limit of the operation (draft-ietf-httpapi-ratelimit-headers): `"ip";r=29;t=60, "identifier";r=9;t=60` (r requests remain; the window resets in t seconds).',
    schema: { type: 'string', example: '"ip";r=29;t=60, "identifier";r=9;t=60' },
  },
  'RateLimit-Policy': {
    description: 'The limits of the operation (draft-ietf-httpapi-ratelimit-headers): `"ip";q=30;w=60, "identifier";q=10;w=60` (quota q per window of w seconds).',
    schema: { type: 'string', example: '"ip";q=30;w=60, "identifier";q=10;w=60' },
  },
  Location: { description: 'Where the browser goes next.', schema: { type: 'string' } },
  'Set-Cookie': {
    description: 'The sealed session cookie (cookie delivery), or its removal. HttpOnly; the name is `session.cookie.name`.',
    schema: { type: 'string' },
  },
};

/** A `$ref` to each named header component, for a response's `headers`. */
export function headerRefs(...names: HeaderName[]): Record<string, { $ref: string }> {
  return Object.fromEntries(names.map((n) => [n, { $ref: `#/components/headers/${n}` }]));
}

/** An application/problem+json answer, optionally with documented headers. */
export function problem(description: string, ...withHeaders: HeaderName[]) {
  return { description, content: problemContent, ...(withHeaders.length ? { headers: headerRefs(...withHeaders) } : {}) };
}

/** The same, as a plain OpenAPI object (components are not converted from zod). */
function problemComponent(description: string, ...withHeaders: HeaderName[]) {
  return {
    description,
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    ...(withHeaders.length ? { headers: headerRefs(...withHeaders) } : {}),
  };
}

/** Error answers shared by several operations, each a component under `#/components/responses/<name>`. */
const sharedResponses = {
  OriginNotAllowed: problemComponent('Cross-site request from an origin that is not allowed (ORIGIN_NOT_ALLOWED)'),
  UpstreamError: problemComponent('Kratos (or a required service) answered unexpectedly (UPSTREAM_ERROR, SERVICE_FAILED)'),
  InternalError: problemComponent('The gateway failed unexpectedly (INTERNAL_ERROR)'),
} as const;

/** `$ref`s to the shared error answers: spread into a route's `responses`. */
export const standardProblems = {
  /** 403 for the origin guard: on every operation that changes state. */
  403: { $ref: '#/components/responses/OriginNotAllowed' },
  500: { $ref: '#/components/responses/InternalError' },
  502: { $ref: '#/components/responses/UpstreamError' },
} as const;

/** The 429 alone, for routes that are rate limited (`responses: { ...rateLimited, … }`). */
// Inline rather than a $ref, so a generator sees the headers on the operation itself.
export const rateLimited = {
  429: problem('Too many attempts (RATE_LIMITED); retry after `Retry-After`. `RateLimit` and `RateLimit-Policy` describe the limits.', 'Retry-After', 'RateLimit', 'RateLimit-Policy'),
} as const;

/**
 * 413 and 415 of an operation with a request body: the body limit and the media-type gate.
 * `form`: the route also takes a plain HTML form post (`acceptBody`).
 */
export function bodyProblems(form: boolean) {
  return {
    413: problem('The body is too large (PAYLOAD_TOO_LARGE)'),
    415: problem(form ? 'Body is neither JSON nor an HTML form (UNSUPPORTED_MEDIA_TYPE)' : 'Body is not JSON (UNSUPPORTED_MEDIA_TYPE)'),
  };
}

/** A flow route's answers (registration, login, …): its own 200 and 4xx, plus the shared ones. */
export function flowResponses<Ok extends z.ZodType, P extends Record<number, ReturnType<typeof problem>>>(options: {
  ok: { description: string; schema: Ok; headers?: HeaderName[] };
  redirect: string;
  problems: P;
}) {
  return {
    200: {
      description: options.ok.description,
      headers: headerRefs('Set-Cookie', 'RateLimit', 'RateLimit-Policy', ...(options.ok.headers ?? [])),
      content: { 'application/json': { schema: options.ok.schema } },
    },
    303: { description: options.redirect, headers: headerRefs('Location', 'Set-Cookie') },
    403: standardProblems[403],
    415: problem('Body is neither JSON nor an HTML form (UNSUPPORTED_MEDIA_TYPE)'),
    ...rateLimited,
    500: standardProblems[500],
    502: standardProblems[502],
    ...options.problems,
  };
}

/** Adds the security schemes, headers and shared answers to the document (once, on the root app). */
export function registerOpenApiComponents(app: Pick<OpenAPIHono, 'openAPIRegistry'>, cookieName: string): void {
  const registry = app.openAPIRegistry;
  registry.register('Problem', ProblemSchema);
  registry.registerComponent('securitySchemes', securitySchemes.bearer, {
    type: 'http',
    scheme: 'bearer',
    description: 'The Kratos session token: `Authorization: Bearer <token>` (token delivery).',
  });
  registry.registerComponent('securitySchemes', securitySchemes.token, {
    type: 'apiKey',
    in: 'header',
    name: 'X-Session-Token',
    description: 'The Kratos session token in `X-Session-Token` (token delivery).',
  });
  registry.registerComponent('securitySchemes', securitySchemes.cookie, {
    type: 'apiKey',
    in: 'cookie',
    name: cookieName,
    description: 'The sealed HttpOnly session cookie set by the gateway (cookie delivery; `session.cookie.name`).',
  });
  for (const [name, header] of Object.entries(headers)) registry.registerComponent('headers', name, header);
  for (const [name, response] of Object.entries(sharedResponses)) registry.registerComponent('responses', name, response);
}
