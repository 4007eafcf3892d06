import { createRoute, z } from '@hono/zod-openapi';
import type { ContinueWith } from '@ory/client';
import type { FieldConfig, GatewayConfig } from '../config.ts';
import { afterJobPlan } from '../after-jobs.ts';
import { acceptBody } from '../body.ts';
import { forwardedClient, type AppContext } from '../context.ts';
import { AppError, validationError, type FieldError } from '../errors.ts';
import { replaySessionJobs, respondWithRedirect, type SessionOutput } from '../flows/after-jobs.ts';
import { withIdempotency } from '../flows/idempotency.ts';
import { flowFailure, performRegistration } from '../flows/native-flows.ts';
import { completeSignUp, rollback, runBeforeServices, type ReportedService } from '../flows/sign-up.ts';
import type { TemplateContext } from '../services/template.ts';
import type { MetadataWrites, RegistrationSubmission } from '../kratos/client.ts';
import { resolveRedirect } from '../redirect.ts';
import { createRouter } from '../router.ts';
import { IdentitySchema, problemContent, SessionSchema } from '../schemas.ts';
import { chooseDelivery } from '../session.ts';
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
export function toSubmission(body: RegistrationBody, fields: Record<string, FieldConfig>): RegistrationSubmission & { metadata: MetadataWrites } {
  const traits = { ...body.traits };
  const transientPayload: Record<string, unknown> = {};
  const metadata: MetadataWrites = { metadataPublic: {}, metadataAdmin: {} };
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
    } else if (field.target === 'metadata_public') {
      metadata.metadataPublic[key] = value;
    } else if (field.target === 'metadata_admin') {
      metadata.metadataAdmin[key] = value;
    }
  }
  if (conflicts.length > 0) throw validationError(conflicts);
  return { traits, password: body.password, transientPayload, metadata };
}

/** continue_with items for the client: the token item is dropped (the token has its own field). */
function clientContinueWith(items: ContinueWith[]): ContinueWith[] {
  return items.filter((item) => item.action !== 'set_ory_session_token');
}

/** HTML form values are strings; read configured boolean and number fields as such. */
function coerceFormFields(form: Record<string, unknown>, fields: Record<string, FieldConfig>): Record<string, unknown> {
  const raw = form.fields;
  if (raw === null || typeof raw !== 'object') return form;
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const [name, field] of Object.entries(fields)) {
    const v = out[name];
    if (typeof v !== 'string') continue;
    if (field.type === 'boolean') out[name] = v === 'true' || v === 'on' ? true : v === 'false' || v === '' ? false : v;
    if (field.type === 'number' && /^-?\d+(\.\d+)?$/.test(v)) out[name] = Number(v);
  }
  return { ...form, fields: out };
}

export function registrationRoutes(config: GatewayConfig) {
  const fields = config.registration.fields;
  const plan = afterJobPlan(config.selfservice, 'registration');
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
      session: SessionSchema.optional().openapi({ description: 'Present when the session after-job ran.' }),
      session_token: z.string().optional().openapi({ description: 'The Kratos session token, only with token delivery.' }),
      redirect_to: z.string().optional().openapi({ description: 'Where to send the user, when the redirect after-job ran.' }),
      services: z
        .array(z.object({ service: z.string(), outcome: z.enum(['failed', 'rejected', 'retrying']) }))
        .optional()
        .openapi({ description: 'After services that did not complete but did not stop the sign-up (on_failure: continue or retry_later).' }),
      continue_with: z.array(z.looseObject({ action: z.string() })),
    })
    .openapi('RegistrationResponse');

  const route = createRoute({
    method: 'post',
    path: '/v1/registration',
    summary: 'Sign up in one request',
    description:
      'Validates the body, creates and submits a Kratos native registration flow, then replays the registration after-jobs ' +
      '(session as token or cookie, redirect). A session token in `Authorization: Bearer` or `X-Session-Token` (or the gateway cookie) ' +
      'is forwarded to Kratos, which refuses sign-up for a signed-in user. `X-Session-Delivery: token|cookie` picks the delivery when ' +
      'the config allows. A plain HTML form post (application/x-www-form-urlencoded, dotted names like `traits.email`) gets a cookie and a 303.',
    request: {
      query: z.object({ return_to: z.string().optional().openapi({ description: 'Used by the redirect after-job with allow_user_defined, if on the allow-list.' }) }),
      body: { required: true, content: { 'application/json': { schema: RegistrationRequest } } },
      headers: z.object({
        'x-session-delivery': z.enum(['token', 'cookie']).optional(),
        'idempotency-key': z.string().optional().openapi({ description: 'Same key + same body replays the first answer; a different body → 422; still running → 409.' }),
      }),
    },
    responses: {
      200: { description: 'Signed up', content: { 'application/json': { schema: RegistrationResponse } } },
      303: { description: 'Signed up (HTML form post): redirect to the redirect job target' },
      400: { description: 'Invalid input (field errors), a session was sent, or return_to is not allowed', content: problemContent },
      403: { description: 'Cross-site request from an origin that is not allowed', content: problemContent },
      409: { description: 'A request with the same Idempotency-Key is still running', content: problemContent },
      415: { description: 'Body is not JSON', content: problemContent },
      422: { description: 'The Idempotency-Key was used with a different body', content: problemContent },
      500: { description: 'A failed sign-up could not be undone (logged with the identity id)', content: problemContent },
      502: { description: 'Kratos answered unexpectedly', content: problemContent },
      503: { description: 'Kratos or a required service is unavailable, or the sign-up was rolled back; retry after `Retry-After`', content: problemContent },
    },
  });

  async function register(c: AppContext, body: RegistrationBody, idempotencyKey: string): Promise<Response> {
    const log = c.get('log');
    // Everything that can refuse the request is checked before anything is called.
    const redirectTo = resolveRedirect(c, plan);
    const delivery = chooseDelivery(c);
    const { metadata, ...submission } = toSubmission(body, fields);
    const client = await forwardedClient(c);
    // What external services may see: never the password.
    const serviceContext: TemplateContext = {
      fields: body.fields ?? {},
      traits: submission.traits,
      request: { id: c.get('requestId'), ip: client.clientIp, user_agent: client.userAgent },
      idempotency_key: idempotencyKey,
    };
    await runBeforeServices(c, serviceContext);
    const result = await performRegistration(c.get('deps').kratos, submission, client, () =>
      log.info('registration flow expired between create and submit; retrying with a new flow'),
    );
    switch (result.kind) {
      case 'ok': {
        c.set('identityCreated', true);
        log.info('identity created', { identity_id: result.identity.id, delivery });
        let reported: ReportedService[];
        let session: SessionOutput;
        try {
          reported = await completeSignUp(c, result.identity, serviceContext, metadata);
          session = await replaySessionJobs(c, plan, { session: result.session, token: result.sessionToken }, delivery, client);
        } catch (err) {
          // Any failure once the identity exists undoes the sign-up, whatever raised it,
          // unless a rollback already ran (then identityCreated is false, or it failed).
          if (!c.get('identityCreated') || (err instanceof AppError && err.code === 'ROLLBACK_FAILED')) throw err;
          log.error('sign-up failed after the identity was created', { identity_id: result.identity.id, error: err });
          return rollback(c, result.identity.id, 'error after creation', err instanceof AppError ? err : new AppError(500, 'INTERNAL_ERROR'));
        }
        return respondWithRedirect(
          c,
          {
            identity: result.identity,
            ...session,
            continue_with: clientContinueWith(result.continueWith),
            ...(reported.length > 0 ? { services: reported } : {}),
          },
          redirectTo,
        );
      }
      default:
        throw flowFailure(c, 'registration', result);
    }
  }

  const router = createRouter();
  // Plain HTML form posts: same schema and rules, validated by the body adapter because the
  // OpenAPI route documents (and validates) the JSON body.
  router.post(
    '/v1/registration',
    acceptBody(
      RegistrationRequest,
      (c, data) => withIdempotency(c, data, (key) => register(c, data as RegistrationBody, key)),
      (form) => coerceFormFields(form, fields),
    ),
  );
  return router.openapi(route, (c) => {
    const data = c.req.valid('json') as RegistrationBody;
    return withIdempotency(c, data, (key) => register(c, data, key)) as never;
  });
}
