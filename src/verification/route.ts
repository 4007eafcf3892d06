import { createRoute, z } from '@hono/zod-openapi';
import { verificationAfterJobPlan } from '../after-jobs/plan.ts';
import { resolveRedirect } from '../after-jobs/redirect.ts';
import { respondWithOutcome } from '../after-jobs/respond.ts';
import { enforceRateLimit } from '../abuse/limit.ts';
import type { AppContext } from '../app-env.ts';
import type { GatewayConfig } from '../config.ts';
import type { ForwardedClient } from '../kratos/port.ts';
import { acceptBody } from '../middleware/body.ts';
import { clientIpOf, requestSignal } from '../middleware/request-context.ts';
import { atLeast } from '../shared/min-duration.ts';
import { bodyProblems, headerRefs, noSecurity, problem, rateLimited, standardProblems } from '../shared/openapi-schemas.ts';
import { createRouter } from '../shared/router.ts';
import { sendVerificationCode, verifyCode } from './verify.ts';
import type { AbortLike } from '../shared/abort.ts';

/**
 * `POST /v1/verification` (send or re-send a code) and `POST /v1/verification/code` (check it).
 * The rate-limit identifier of both is the address: `verificationIdentifier`.
 */

const flowHandle = z.uuid().openapi({
  description: 'The verification flow handle (Kratos\'s verification flow id), from a previous answer or the registration\'s `verification.flow`.',
  example: '0b2b6d4e-3c55-4d7e-9c1d-4a0f4a3b9e21',
});

const StartVerificationRequest = z
  .strictObject({
    email: z.email().max(320).openapi({ example: 'ada@example.com' }),
    flow: flowHandle.optional().openapi({ description: 'Re-send on this flow (its earlier codes stop working). If the flow cannot take it any more, a new one is started.' }),
  })
  .openapi('StartVerificationRequest');

export const VerificationSentSchema = z
  .object({
    flow: z.string().openapi({ description: 'Opaque flow handle; send it with the code to POST /v1/verification/code.' }),
    sent_to: z.string().openapi({ description: 'The address the code was sent to (trimmed, lowercased).' }),
  })
  .openapi('VerificationSent');

const VerifyEmailRequest = z
  .strictObject({
    flow: flowHandle,
    code: z.string().regex(/^[0-9]{6}$/, 'must be 6 digits').openapi({ example: '123456', description: 'The 6-digit code from the email.' }),
  })
  .openapi('VerifyEmailRequest');

const VerifyEmailResponse = z
  .object({
    verified: z.literal(true),
    redirect_to: z.string().optional().openapi({ description: 'Where to send the user, when the verification redirect after-job is configured.' }),
  })
  .openapi('VerifyEmailResponse');

type StartBody = z.infer<typeof StartVerificationRequest>;
type VerifyBody = z.infer<typeof VerifyEmailRequest>;

/** The identifier to rate-limit these routes by: the address (lowercased), when the body has one. */
export function verificationIdentifier(body: unknown): string | undefined {
  const email = (body as { email?: unknown } | undefined)?.email;
  return typeof email === 'string' ? email.trim().toLowerCase() : undefined;
}

const startRoute = createRoute({
  method: 'post',
  path: '/v1/verification',
  operationId: 'startVerification',
  tags: ['Verification'],
  security: noSecurity,
  summary: 'Send (or re-send) an email verification code',
  description:
    'Creates a Kratos native verification flow and has Kratos email a 6-digit code to the address. The answer is the same for an ' +
    'address that has no account (same status, body and, up to `verification.min_answer_ms`, timing): nothing tells whether a mail went out. ' +
    'With `flow`, the code is re-sent on that flow and the earlier code stops working.',
  request: { body: { required: true, content: { 'application/json': { schema: StartVerificationRequest } } } },
  responses: {
    200: {
      description: 'A code was sent if the address belongs to an account',
      headers: headerRefs('RateLimit', 'RateLimit-Policy'),
      content: { 'application/json': { schema: VerificationSentSchema } },
    },
    400: problem('Invalid input (VALIDATION_FAILED, INVALID_JSON)'),
    403: standardProblems[403],
    ...bodyProblems(true),
    ...rateLimited,
    500: standardProblems[500],
    502: standardProblems[502],
    503: problem('Kratos or the rate limiter is unavailable (KRATOS_UNAVAILABLE, LIMITER_UNAVAILABLE); retry after `Retry-After`', 'Retry-After'),
  },
});

const verifyRoute = createRoute({
  method: 'post',
  path: '/v1/verification/code',
  operationId: 'verifyEmail',
  tags: ['Verification'],
  security: noSecurity,
  summary: 'Verify an email address with the emailed code',
  description:
    'Submits the code to the Kratos verification flow. A wrong or used code is a field error at `/code` (CODE_INVALID; the flow stays usable, ' +
    'up to five tries in all). 410 answers mean "request a new code with POST /v1/verification": VERIFICATION_FLOW_EXPIRED (the flow is unknown or ' +
    'expired), CODE_EXPIRED, CODE_ATTEMPTS_EXCEEDED (the sixth try on a flow always fails, even with the right code), VERIFICATION_ALREADY_DONE. ' +
    'On success the `verification` redirect after-job is replayed: `redirect_to` in the JSON, or a 303 for a plain HTML form post.',
  request: {
    query: z.object({ return_to: z.string().optional().openapi({ description: 'Used by the redirect after-job with allow_user_defined, if on the allow-list.' }) }),
    body: { required: true, content: { 'application/json': { schema: VerifyEmailRequest } } },
  },
  responses: {
    200: {
      description: 'The address is verified',
      headers: headerRefs('RateLimit', 'RateLimit-Policy'),
      content: { 'application/json': { schema: VerifyEmailResponse } },
    },
    303: { description: 'Verified (HTML form post): redirect to the redirect job target', headers: headerRefs('Location') },
    400: problem('Invalid input (VALIDATION_FAILED), a wrong code (CODE_INVALID at `/code`), or return_to is not allowed (RETURN_TO_NOT_ALLOWED)'),
    403: standardProblems[403],
    410: problem('Request a new code: VERIFICATION_FLOW_EXPIRED, CODE_EXPIRED, CODE_ATTEMPTS_EXCEEDED or VERIFICATION_ALREADY_DONE'),
    ...bodyProblems(true),
    ...rateLimited,
    500: standardProblems[500],
    502: standardProblems[502],
    503: problem('Kratos or the rate limiter is unavailable (KRATOS_UNAVAILABLE, LIMITER_UNAVAILABLE); retry after `Retry-After`', 'Retry-After'),
  },
});

/** The client as forwarded to Kratos: verification needs no session, so none is read or sent. */
function clientOf(c: AppContext, signal: AbortLike): ForwardedClient {
  return { requestId: c.get('requestId'), clientIp: clientIpOf(c), userAgent: c.req.header('user-agent')?.slice(0, 512), signal };
}

export function verificationRoutes(config: GatewayConfig) {
  const plan = verificationAfterJobPlan(config.selfservice);

  async function start(c: AppContext, body: StartBody): Promise<Response> {
    // Before the clock starts: a 429 may answer at once (it depends on counts, not on the account).
    await enforceRateLimit(c, 'verification', verificationIdentifier(body));
    const gateway = c.get('gateway');
    const startedAt = gateway.now();
    const { signal, dispose } = requestSignal(c);
    try {
      const sent = await sendVerificationCode({ kratos: gateway.kratos, log: c.get('log') }, { email: body.email, flowId: body.flow, client: clientOf(c, signal) });
      await atLeast(startedAt, config.verification.min_answer_ms, gateway.now);
      return c.json(sent, 200);
    } finally {
      dispose();
    }
  }

  async function verify(c: AppContext, body: VerifyBody): Promise<Response> {
    await enforceRateLimit(c, 'verification_code', body.flow);
    const gateway = c.get('gateway');
    const log = c.get('log');
    // A refused return_to is refused before the code is spent.
    const redirectTo = resolveRedirect(plan, c.req.url, gateway.returnToPolicy, log);
    const { signal, dispose } = requestSignal(c);
    try {
      await verifyCode({ kratos: gateway.kratos, log }, { flowId: body.flow, code: body.code, client: clientOf(c, signal) });
    } finally {
      dispose();
    }
    return respondWithOutcome(c, { body: { verified: true }, redirectTo });
  }

  const router = createRouter();
  router.post('/v1/verification', acceptBody(StartVerificationRequest, start));
  router.post('/v1/verification/code', acceptBody(VerifyEmailRequest, verify));
  // `start` answers only the documented 200 (or throws a problem); its plain Response is not typed per status.
  router.openapi(startRoute, async (c) => (await start(c, c.req.valid('json'))) as never);
  return router.openapi(verifyRoute, (c) => verify(c, c.req.valid('json')));
}
