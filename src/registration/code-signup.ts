import { createRoute, z } from '@hono/zod-openapi';
import { afterJobPlan } from '../after-jobs/plan.ts';
import { resolveRedirect } from '../after-jobs/redirect.ts';
import { enforceRateLimit } from '../abuse/limit.ts';
import type { AppContext } from '../app-env.ts';
import type { GatewayConfig } from '../config.ts';
import { AppError, validationError } from '../errors.ts';
import { withIdempotency, type SignUpAnswer } from '../idempotency/with-idempotency.ts';
import { kratosFailure } from '../kratos/failure.ts';
import { runNativeFlow } from '../kratos/native-flow.ts';
import { requireKratosFeature } from '../kratos/version.ts';
import type { ForwardedClient, MetadataWrites, RegistrationSubmission } from '../kratos/port.ts';
import { codeStepFailure } from '../login/code.ts';
import { requestSignal } from '../middleware/request-context.ts';
import { handleSealerFor } from '../second-factor/handle.ts';
import { chooseDelivery } from '../session/delivery.ts';
import { forwardedClient } from '../session/incoming.ts';
import { bodyProblems, headerRefs, IdentitySchema, noSecurity, problem, rateLimited, SessionSchema, standardProblems } from '../shared/openapi-schemas.ts';
import { valueAtPointer } from '../shared/json-pointer.ts';
import { createRouter } from '../shared/router.ts';
import type { CreatedIdentity } from './create-identity.ts';
import type { SignUpDeps } from './deps.ts';
import { compileFields, toSubmission } from './fields.ts';
import { signUp } from './sign-up.ts';
import { signUpAnswer, waitUntilOf } from './answer.ts';

/**
 * Sign-up by emailed code (issue 14), on Kratos's code registration method:
 *
 * 1. `POST /v1/registration/code` validates the body like POST /v1/registration (traits, extra
 *    fields), then runs the *send* step of a native registration flow with `method: code`: Kratos
 *    validates the traits against the identity schema, keeps them in the flow and mails a code.
 *    **Kratos creates no identity at this step** (and a taken email is not detected yet: Kratos
 *    mails a code anyway and refuses at verify with 4000007, so this step answers the same for
 *    new and existing addresses). The gateway runs no service here; the traits, fields and
 *    metadata are sealed into the handle, nothing is stored.
 * 2. `POST /v1/registration/code/verify` runs the same sign-up pipeline as POST /v1/registration
 *    (`signUp`: Idempotency-Key, before services, identity creation, after services and metadata,
 *    rollback, after-jobs), with the identity created by the *verify* step on the same flow. An
 *    address that never confirms leaves nothing behind: no identity, no service call.
 *
 * The client's session token is not forwarded (Kratos refuses aal1 code registration with one).
 */

const CODE_SIGNUP_HANDLE_TTL_MS = 60 * 60_000;

interface Sealed {
  f: string;
  traits: Record<string, unknown>;
  fields: Record<string, unknown>;
  tp: Record<string, unknown>;
  md: MetadataWrites;
}

export function codeSignUpRoutes(config: GatewayConfig) {
  const fieldConfig = config.registration.fields;
  const plan = afterJobPlan(config.selfservice, 'registration');
  const handles = handleSealerFor(config);

  const SendRequest = z
    .strictObject({
      traits: z.record(z.string(), z.unknown()).openapi({ description: 'Identity traits, validated by the Kratos identity schema.', example: { email: 'ada@example.com' } }),
      fields: compileFields(fieldConfig).openapi({ description: 'Extra fields declared in the gateway config.' }),
    })
    .openapi('CodeRegistrationRequest');
  const VerifyRequest = z
    .strictObject({ handle: z.string().min(1).max(16_384), code: z.string().min(1).max(64).openapi({ example: '123456' }) })
    .openapi('CodeRegistrationVerifyRequest');
  const VerifyResponse = z
    .object({
      identity: IdentitySchema,
      session: SessionSchema.optional(),
      session_token: z.string().optional(),
      redirect_to: z.string().optional(),
      services: z.array(z.object({ service: z.string(), outcome: z.enum(['failed', 'rejected', 'retrying']) })).optional(),
      continue_with: z.array(z.looseObject({ action: z.string() })),
    })
    .openapi('CodeRegistrationResponse');

  const send = createRoute({
    method: 'post',
    path: '/v1/registration/code',
    operationId: 'sendRegistrationCode',
    tags: ['Passwordless code'],
    security: noSecurity,
    summary: 'Start a sign-up by emailed code',
    description:
      'Validates traits and extra fields, then has Kratos mail a code (code registration method). No identity exists yet and no service runs. ' +
      'An address that has an account already gets the same answer (Kratos refuses it at the verify step). Needs Kratos with ' +
      '`selfservice.methods.code.passwordless_enabled: true`.',
    request: { body: { required: true, content: { 'application/json': { schema: SendRequest } } } },
    responses: {
      200: {
        description: 'Code sent',
        headers: headerRefs('RateLimit', 'RateLimit-Policy'),
        content: { 'application/json': { schema: z.object({ handle: z.string() }).openapi('CodeRegistrationSent') } },
      },
      400: problem('Invalid input (VALIDATION_FAILED, field errors)'),
      403: standardProblems[403],
      ...bodyProblems(false),
      ...rateLimited,
      500: standardProblems[500],
      502: standardProblems[502],
      501: problem('Kratos older than v1.1.0 has no code sign-up (NOT_SUPPORTED_BY_KRATOS); nothing was done'),
      503: problem('Kratos or the rate limiter is unavailable (KRATOS_UNAVAILABLE, LIMITER_UNAVAILABLE); retry after `Retry-After`', 'Retry-After'),
    },
  });
  const verify = createRoute({
    method: 'post',
    path: '/v1/registration/code/verify',
    operationId: 'verifyRegistrationCode',
    tags: ['Passwordless code'],
    security: noSecurity,
    summary: 'Finish a sign-up by emailed code',
    description:
      'Runs the sign-up pipeline of POST /v1/registration (before services, identity creation by the code, after services, rollback, ' +
      'after-jobs, Idempotency-Key) with the traits and fields sealed in `handle`. A wrong code is a field error (CODE_INVALID); ' +
      'Kratos allows 5 code submissions per flow (then CODE_ATTEMPTS_EXCEEDED: start again).',
    request: {
      query: z.object({ return_to: z.string().optional() }),
      body: { required: true, content: { 'application/json': { schema: VerifyRequest } } },
      headers: z.object({ 'x-session-delivery': z.enum(['token', 'cookie']).optional(), 'idempotency-key': z.string().optional() }),
    },
    responses: {
      200: {
        description: 'Signed up (the session as token or cookie, when the session after-job runs)',
        headers: headerRefs('Set-Cookie', 'Idempotent-Replayed', 'RateLimit', 'RateLimit-Policy'),
        content: { 'application/json': { schema: VerifyResponse } },
      },
      400: problem(
        'Invalid input or a wrong code (VALIDATION_FAILED: CODE_INVALID at `/code`, IDENTIFIER_TAKEN), a handle that is invalid or expired (HANDLE_INVALID), ' +
          'return_to is not allowed (RETURN_TO_NOT_ALLOWED), or a malformed Idempotency-Key (INVALID_IDEMPOTENCY_KEY)',
      ),
      403: standardProblems[403],
      409: problem('A request with the same Idempotency-Key is still running (IDEMPOTENCY_KEY_IN_USE); retry after `Retry-After`', 'Retry-After'),
      410: problem('Start again with POST /v1/registration/code: CODE_EXPIRED or CODE_ATTEMPTS_EXCEEDED'),
      ...bodyProblems(false),
      422: problem('The Idempotency-Key was used with a different body (IDEMPOTENCY_KEY_MISMATCH)'),
      ...rateLimited,
      500: problem('A failed sign-up could not be undone (ROLLBACK_FAILED, logged with the identity id), or an unexpected failure (INTERNAL_ERROR)'),
      502: standardProblems[502],
      501: problem('Kratos older than v1.1.0 has no code sign-up (NOT_SUPPORTED_BY_KRATOS); nothing was done'),
      503: problem('Kratos, a required service or the state store is unavailable, or the sign-up was rolled back; retry after `Retry-After`', 'Retry-After'),
    },
  });

  /** The verify step as the sign-up's way of creating the identity. */
  const createByCode = (flowId: string, code: string) =>
    async (deps: SignUpDeps, submission: RegistrationSubmission, client: ForwardedClient): Promise<CreatedIdentity> => {
      const result = await deps.kratos.submitFlow('registration_code', flowId, { traits: submission.traits, code, transientPayload: submission.transientPayload }, { ...client, sessionToken: undefined });
      switch (result.kind) {
        case 'ok':
          return { ...result, how: 'created' };
        case 'sent':
          throw kratosFailure(deps.log, 'registration (code verify)', { kind: 'upstream_error', problem: { reason: 'verify step answered sent_email' } });
        case 'ambiguous':
          // No lost-answer resolution for the code method: the identity may exist; the client
          // retrying the code gets IDENTIFIER_TAKEN at worst, never a second account.
          if (result.answered) throw kratosFailure(deps.log, 'registration (code verify)', { kind: 'unavailable', problem: result.problem });
          deps.log.error('SIGN-UP OUTCOME UNKNOWN: the code registration answer was lost', { upstream: result.problem });
          deps.onLeftBehind(undefined);
          throw new AppError('SIGNUP_OUTCOME_UNKNOWN');
        default:
          throw codeStepFailure(deps, 'registration (code verify)', result);
      }
    };

  async function deps(c: AppContext): Promise<SignUpDeps> {
    const gateway = c.get('gateway');
    return {
      kratos: gateway.kratos,
      services: gateway.services,
      retryQueue: gateway.retryQueue,
      log: c.get('log'),
      now: gateway.now,
      requestId: c.get('requestId'),
      cookies: gateway.cookies,
      cookieConfig: config.session.cookie,
      plan,
      registration: config.registration,
      identifierPointer: config.kratos.identifier_pointer,
      onLeftBehind: gateway.onLeftBehind,
      // Workers: keep the isolate alive for retry_later work (Node has no ExecutionContext).
      waitUntil: waitUntilOf(c),
    };
  }

  async function finish(c: AppContext, body: { handle: string; code: string }, idempotencyKey: string): Promise<SignUpAnswer> {
    const gateway = c.get('gateway');
    const sealed = (await handles.open('registration_code', body.handle, gateway.now())) as Sealed | undefined;
    if (typeof sealed?.f !== 'string') throw new AppError('HANDLE_INVALID');
    const redirectTo = resolveRedirect(plan, c.req.url, gateway.returnToPolicy, c.get('log'));
    const delivery = chooseDelivery(c);
    const forwarded = await forwardedClient(c);
    const { signal, dispose } = requestSignal(c);
    let result: Awaited<ReturnType<typeof signUp>>;
    try {
      result = await signUp(await deps(c), {
        fields: sealed.fields,
        submission: { traits: sealed.traits, password: '', transientPayload: sealed.tp },
        metadata: sealed.md,
        idempotencyKey,
        delivery,
        redirectTo,
        client: { ...forwarded, sessionToken: undefined, signal },
        create: createByCode(sealed.f, body.code),
      });
    } finally {
      dispose();
    }
    return signUpAnswer(c, result);
  }

  return createRouter()
    .openapi(send, async (c) => {
      await requireKratosFeature(c.get('gateway'), 'code_registration', c.get('requestId'));
      const body = c.req.valid('json');
      const identifier = valueAtPointer({ traits: body.traits }, config.kratos.identifier_pointer);
      await enforceRateLimit(c, 'registration_code', typeof identifier === 'string' ? identifier : undefined);
      const { metadata, traits, transientPayload } = toSubmission({ ...body, password: '' }, fieldConfig);
      const log = c.get('log');
      let flowId = '';
      const client = { ...(await forwardedClient(c)), sessionToken: undefined };
      const result = await runNativeFlow(c.get('gateway').kratos, 'registration_code', { traits, transientPayload }, client, {
        onExpired: () => log.info('registration flow expired between create and submit; retrying with a new flow'),
        decorate: (r, created) => ((flowId = created.flowId), r),
      });
      if (result.kind === 'invalid') throw validationError(result.errors);
      if (result.kind !== 'sent') {
        if (result.kind === 'ok' || result.kind === 'ambiguous') {
          throw kratosFailure(log, 'registration (code send)', { kind: 'upstream_error', problem: { reason: `send step answered ${result.kind}` } });
        }
        throw codeStepFailure({ log }, 'registration (code send)', result);
      }
      log.info('registration code sent');
      const sealed: Sealed = { f: flowId, traits, fields: body.fields ?? {}, tp: transientPayload ?? {}, md: metadata };
      return c.json({ handle: await handles.seal('registration_code', sealed as unknown as Record<string, unknown>, c.get('gateway').now() + CODE_SIGNUP_HANDLE_TTL_MS) }, 200);
    })
    .openapi(verify, async (c) => {
      await requireKratosFeature(c.get('gateway'), 'code_registration', c.get('requestId'));
      const body = c.req.valid('json');
      await enforceRateLimit(c, 'registration_code_verify', body.handle);
      return (await withIdempotency(c, body, (key) => finish(c, body, key))) as never;
    });
}
