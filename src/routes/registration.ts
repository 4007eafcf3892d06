import { createRoute, z } from '@hono/zod-openapi';
import type { ContinueWith } from '@ory/client';
import type { FieldConfig, GatewayConfig } from '../config.ts';
import { forwardedClient } from '../context.ts';
import { AppError, validationError, type FieldError } from '../errors.ts';
import { performRegistration } from '../flows/registration.ts';
import type { RegistrationSubmission } from '../kratos/client.ts';
import { createRouter, requireJson } from '../router.ts';
import { IdentitySchema, problemContent, SessionSchema } from '../schemas.ts';
import { compileFields, toPointer } from '../validation.ts';

export interface RegistrationBody {
  traits: Record<string, unknown>;
  password: string;
  fields?: Record<string, unknown> | undefined;
}

/**
 * Splits the validated body into what goes to Kratos: configured fields with target
 * `trait` are copied into traits, `transient_payload` fields into the transient payload.
 * A client that also sends such a trait directly gets an error instead of a silent choice.
 */
export function toSubmission(body: RegistrationBody, fields: Record<string, FieldConfig>): RegistrationSubmission {
  const traits = { ...body.traits };
  const transientPayload: Record<string, unknown> = {};
  const conflicts: FieldError[] = [];
  for (const [name, field] of Object.entries(fields)) {
    const value = body.fields?.[name];
    if (value === undefined) continue;
    const key = field.key ?? name;
    if (field.target === 'trait') {
      if (key in body.traits) {
        conflicts.push({
          pointer: toPointer(['traits', key]),
          code: 'UNKNOWN_FIELD',
          message: `is set from fields.${name}; do not send it in traits`,
        });
      }
      traits[key] = value;
    } else if (field.target === 'transient_payload') {
      transientPayload[key] = value;
    }
  }
  if (conflicts.length > 0) throw validationError(conflicts);
  return { traits, password: body.password, transientPayload };
}

/** continue_with items for the client: the token item is dropped (the token has its own field). */
function clientContinueWith(items: ContinueWith[]): ContinueWith[] {
  return items.filter((item) => item.action !== 'set_ory_session_token');
}

export function registrationRoutes(config: GatewayConfig) {
  const fields = config.registration.fields;
  const RegistrationRequest = z
    .strictObject({
      traits: z
        .record(z.string(), z.unknown())
        .openapi({ description: 'Identity traits, validated by the Kratos identity schema.', example: { email: 'ada@example.com' } }),
      password: z.string().min(1).max(4096).openapi({ example: 'correct-horse-battery-staple' }),
      fields: compileFields(fields).openapi({ description: 'Extra fields declared in the gateway config.' }),
    })
    .openapi('RegistrationRequest');

  const RegistrationResponse = z
    .object({
      identity: IdentitySchema,
      session: SessionSchema.optional(),
      session_token: z.string().optional().openapi({ description: 'The Kratos session token (token delivery).' }),
      continue_with: z.array(z.looseObject({ action: z.string() })),
    })
    .openapi('RegistrationResponse');

  const route = createRoute({
    method: 'post',
    path: '/v1/registration',
    summary: 'Sign up in one request',
    description:
      'Validates the body, creates and submits a Kratos native registration flow, and returns the identity and session. ' +
      'A session token in `Authorization: Bearer` or `X-Session-Token` is forwarded to Kratos, which refuses sign-up for a signed-in user.',
    middleware: [requireJson] as const,
    request: {
      body: { required: true, content: { 'application/json': { schema: RegistrationRequest } } },
    },
    responses: {
      200: { description: 'Signed up', content: { 'application/json': { schema: RegistrationResponse } } },
      400: { description: 'Invalid input (field errors), or a session was sent', content: problemContent },
      415: { description: 'Body is not JSON', content: problemContent },
      502: { description: 'Kratos answered unexpectedly', content: problemContent },
      503: { description: 'Kratos is unavailable; retry after `Retry-After`', content: problemContent },
    },
  });

  return createRouter().openapi(route, async (c) => {
    const body = c.req.valid('json') as RegistrationBody;
    const log = c.var.log;
    const submission = toSubmission(body, fields);
    const result = await performRegistration(c.var.deps.kratos, submission, forwardedClient(c), () =>
      log.info('registration flow expired between create and submit; retrying with a new flow'),
    );
    switch (result.kind) {
      case 'ok':
        log.info('registration succeeded', { identity_id: result.identity.id });
        return c.json(
          {
            identity: result.identity as unknown as z.infer<typeof IdentitySchema>,
            ...(result.session ? { session: result.session as unknown as z.infer<typeof SessionSchema> } : {}),
            ...(result.sessionToken ? { session_token: result.sessionToken } : {}),
            continue_with: clientContinueWith(result.continueWith),
          },
          200,
        );
      case 'invalid':
        throw validationError(result.errors);
      case 'signed_in':
        throw new AppError(400, 'SESSION_ALREADY_AVAILABLE');
      case 'expired':
        log.warn('registration flow expired twice in a row');
        throw new AppError(503, 'FLOW_EXPIRED', undefined, [], { 'Retry-After': '1' });
      case 'unavailable':
        log.error('kratos unavailable during registration', { upstream: result.problem });
        throw new AppError(503, 'KRATOS_UNAVAILABLE', undefined, [], { 'Retry-After': '5' });
      case 'upstream_error':
        log.error('unexpected kratos answer during registration', { upstream: result.problem });
        throw new AppError(502, 'UPSTREAM_ERROR');
    }
  });
}
