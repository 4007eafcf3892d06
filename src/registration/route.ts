import { createRoute, z } from '@hono/zod-openapi';
import type { ContinueWith } from '@ory/client';
import type { FieldConfig, GatewayConfig } from '../config.ts';
import { afterJobPlan } from '../after-jobs/plan.ts';
import { acceptBody } from '../middleware/body.ts';
import { forwardedClient, requestSignal, type AppContext } from '../app-env.ts';
import { AppError, problemResponse, validationError, type FieldError } from '../errors.ts';
import { replaySessionJobs, respondWithRedirect } from '../after-jobs/replay.ts';
import { withIdempotency, type SignUpAnswer } from '../idempotency/with-idempotency.ts';
import { resolveLostAnswer } from '../kratos/lost-answer.ts';
import { flowFailure, performRegistration } from '../kratos/native-flow.ts';
import { completeSignUp, rollbackIdentity, runBeforeServices, throwIfAborted, withRollback } from './sign-up.ts';
import type { TemplateContext } from '../services/template.ts';
import type { ForwardedClient, MetadataWrites, RegistrationResult, RegistrationSubmission } from '../kratos/client.ts';
import { identifierTakenError } from '../kratos/messages.ts';
import { resolveRedirect } from '../after-jobs/redirect.ts';
import { createRouter } from '../shared/router.ts';
import { IdentitySchema, problemContent, SessionSchema } from '../shared/openapi-schemas.ts';
import { chooseDelivery } from '../session/delivery.ts';
import { compileFields, toPointer } from '../shared/validation.ts';

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

/** An identity this request created, and how the gateway learnt of it. */
type CreatedIdentity = Extract<RegistrationResult, { kind: 'ok' }> & {
  /** `recovered`: the submit's answer was lost and the identity was found and proven this request's. */
  how: 'created' | 'recovered';
};

export function registrationRoutes(config: GatewayConfig) {
  const fields = config.registration.fields;
  const onLostAnswer = config.registration.on_lost_answer;
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

  /**
   * Creates the identity in Kratos and returns what the sign-up continues with. Throws an
   * AppError when no identity of this request exists (nothing to undo). A lost answer is
   * resolved from Kratos first (see flows/lost-answer.ts).
   */
  async function createIdentity(c: AppContext, submission: RegistrationSubmission, client: ForwardedClient): Promise<CreatedIdentity> {
    const log = c.get('log');
    const { kratos, config: cfg } = c.get('deps');
    const result = await performRegistration(kratos, submission, client, () =>
      log.info('registration flow expired between create and submit; retrying with a new flow'),
    );
    if (result.kind === 'ok') return { ...result, how: 'created' };
    if (result.kind !== 'ambiguous') {
      throwIfAborted(client.signal);
      throw flowFailure(c, 'registration', result);
    }
    log.warn('registration outcome unclear; finding out from Kratos whether the identity exists', { upstream: result.problem });
    const resolved = await resolveLostAnswer({
      kratos,
      submission,
      client,
      identifierPointer: cfg.kratos.identifier_pointer,
      flowIssuedAt: result.flowIssuedAt,
      answered: result.answered,
      mayResubmit: !client.signal?.aborted,
      log,
    });
    log.info('lost registration answer resolved', { outcome: resolved.kind, ...('identity' in resolved ? { identity_id: resolved.identity.id } : {}) });
    switch (resolved.kind) {
      case 'created':
        return { ...resolved.result, how: 'created' };
      case 'ours': {
        const { identity, login } = resolved;
        // The session Kratos made with the lost answer has a token nobody holds: revoke it.
        if (login) {
          const revoked = await kratos.revokeOtherSessions(login.sessionToken, { ...client, signal: undefined });
          if (revoked.kind !== 'ok') log.warn('could not revoke the session of the lost answer', { kind: revoked.kind });
        }
        return { kind: 'ok', identity, continueWith: [], ...(login ? { session: login.session, sessionToken: login.sessionToken } : {}), how: 'recovered' };
      }
      case 'taken':
        throw validationError([identifierTakenError(cfg.kratos.identifier_pointer)]);
      case 'not_created':
        throw flowFailure(c, 'registration', { kind: 'unavailable', problem: result.problem });
      case 'failed':
        throw flowFailure(c, 'registration', resolved.result.kind === 'ambiguous' ? { kind: 'unavailable', problem: resolved.result.problem } : resolved.result);
      case 'unknown':
        if (result.answered) {
          // Kratos answered 5xx and cannot be asked now: an outage, in which nothing is created.
          log.warn('kratos failed the submit and could not confirm that nothing was created', { why: resolved.why });
          throw flowFailure(c, 'registration', { kind: 'unavailable', problem: result.problem });
        }
        log.error('SIGN-UP OUTCOME UNKNOWN: Kratos did not confirm whether the identity was created', { why: resolved.why });
        c.get('deps').onLeftBehind?.(undefined);
        throw new AppError('SIGNUP_OUTCOME_UNKNOWN');
    }
  }

  async function register(c: AppContext, body: RegistrationBody, idempotencyKey: string): Promise<SignUpAnswer> {
    const log = c.get('log');
    // Everything that can refuse the request is checked before anything is called.
    const redirectTo = resolveRedirect(c, plan);
    const delivery = chooseDelivery(c);
    const { metadata, ...submission } = toSubmission(body, fields);
    const signal = requestSignal(c);
    const client: ForwardedClient = { ...(await forwardedClient(c)), signal };
    // What external services may see: never the password.
    const serviceContext: TemplateContext = {
      fields: body.fields ?? {},
      traits: submission.traits,
      request: { id: c.get('requestId'), ip: client.clientIp, user_agent: client.userAgent },
      idempotency_key: idempotencyKey,
    };
    await runBeforeServices(c, serviceContext, signal);
    const created = await createIdentity(c, submission, client);
    const { identity } = created;
    log.info('identity created', { identity_id: identity.id, delivery, ...(created.how === 'recovered' ? { recovered: true } : {}) });

    const scoped =
      created.how === 'recovered' && (onLostAnswer === 'rollback' || (plan.session && !created.sessionToken))
        ? await rollbackIdentity(c, identity.id, 'lost answer', new AppError('SIGNUP_ROLLED_BACK'))
        : await withRollback(c, identity.id, async () => {
            const reported = await completeSignUp(c, identity, serviceContext, metadata, signal);
            const session = await replaySessionJobs(c, plan, { session: created.session, token: created.sessionToken }, delivery, client);
            throwIfAborted(signal);
            return respondWithRedirect(
              c,
              {
                identity,
                ...session,
                continue_with: clientContinueWith(created.continueWith),
                ...(reported.length > 0 ? { services: reported } : {}),
              },
              redirectTo,
            );
          });
    switch (scoped.kind) {
      case 'done':
        return { response: scoped.value, identityExists: true };
      case 'rolled_back':
        return { response: problemResponse(c, scoped.answer), identityExists: false };
      case 'rollback_failed':
        return { response: problemResponse(c, scoped.answer), identityExists: true };
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
