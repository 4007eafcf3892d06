import { createRoute, z } from '@hono/zod-openapi';
import { respondWithOutcome } from '../after-jobs/respond.ts';
import { enforceRateLimit } from '../abuse/limit.ts';
import type { AppContext } from '../app-env.ts';
import { requireKratosFeature } from '../kratos/version.ts';
import type { GatewayConfig } from '../config.ts';
import { acceptBody } from '../middleware/body.ts';
import { chooseDelivery } from '../session/delivery.ts';
import { forwardedClient } from '../session/incoming.ts';
import { bodyProblems, headerRefs, noSecurity, problem, rateLimited, SessionSchema, standardProblems } from '../shared/openapi-schemas.ts';
import { createRouter } from '../shared/router.ts';
import { completeRecovery, startRecovery, type RecoveryDeps } from './recover.ts';

const StartRecoveryRequest = z.strictObject({ email: z.email().max(320).openapi({ example: 'ada@example.com' }) }).openapi('StartRecoveryRequest');
const StartRecoveryResponse = z
  .object({ flow: z.string().openapi({ description: 'Opaque recovery flow handle; send it with the code to POST /v1/recovery/code.' }) })
  .openapi('StartRecoveryResponse');

const CompleteRecoveryRequest = z
  .strictObject({
    flow: z.string().min(1).max(2048),
    code: z.string().regex(/^\d{6}$/, 'must be the 6-digit code from the email').openapi({ example: '123456' }),
    password: z.string().min(1).max(4096),
  })
  .openapi('CompleteRecoveryRequest');
const CompleteRecoveryResponse = z
  .object({
    session: SessionSchema.optional(),
    session_token: z.string().optional().openapi({ description: 'Only with token delivery.' }),
  })
  .openapi('CompleteRecoveryResponse');

const start = createRoute({
  method: 'post',
  path: '/v1/recovery',
  operationId: 'startRecovery',
  tags: ['Recovery'],
  security: noSecurity,
  summary: 'Send a recovery code',
  description:
    'Creates a Kratos native recovery flow and has Kratos email a 6-digit code. An unknown address gets the same answer (Kratos sends nothing). ' +
    'Each call starts a new flow; a code is bound to its flow.',
  request: { body: { required: true, content: { 'application/json': { schema: StartRecoveryRequest } } } },
  responses: {
    200: {
      description: 'A code was sent if the address has an account',
      headers: headerRefs('RateLimit', 'RateLimit-Policy'),
      content: { 'application/json': { schema: StartRecoveryResponse } },
    },
    400: problem('Invalid input (VALIDATION_FAILED, INVALID_JSON)'),
    403: standardProblems[403],
    ...bodyProblems(true),
    ...rateLimited,
    500: standardProblems[500],
    502: standardProblems[502],
    501: problem('Kratos older than v1.1.0 has no native recovery (NOT_SUPPORTED_BY_KRATOS); nothing was done'),
    503: problem('Kratos or the rate limiter is unavailable (KRATOS_UNAVAILABLE, LIMITER_UNAVAILABLE); retry after `Retry-After`', 'Retry-After'),
  },
});

const complete = createRoute({
  method: 'post',
  path: '/v1/recovery/code',
  operationId: 'completeRecovery',
  tags: ['Recovery'],
  security: noSecurity,
  summary: 'Recover with the code and set a new password',
  description:
    'Submits the code, takes the session Kratos issues for the recovered identity, sets `password` through a native settings flow with it, and delivers the session ' +
    '(token or cookie, as for login). A refused password (field error at `/password`) can be retried with the same `flow` and `code` without a new email, within `recovery.retry_window_ms` (10 minutes by default). ' +
    'A wrong code is a field error at `/code` (CODE_INVALID); an expired flow, code or retry window is RECOVERY_EXPIRED; the 6th code tried on one flow is RECOVERY_ATTEMPTS_EXCEEDED.',
  request: { body: { required: true, content: { 'application/json': { schema: CompleteRecoveryRequest } } } },
  responses: {
    200: {
      description: 'Password set; signed in (the session as token or cookie)',
      headers: headerRefs('Set-Cookie', 'RateLimit', 'RateLimit-Policy'),
      content: { 'application/json': { schema: CompleteRecoveryResponse } },
    },
    400: problem('Invalid input (VALIDATION_FAILED), a wrong code (CODE_INVALID at `/code`) a refused password (field errors at `/password`), or a session was sent (SESSION_ALREADY_AVAILABLE)'),
    403: standardProblems[403],
    409: problem('Another request for this recovery flow is still running (RECOVERY_IN_PROGRESS); retry after `Retry-After`', 'Retry-After'),
    410: problem('Request a new code with POST /v1/recovery: RECOVERY_EXPIRED or RECOVERY_ATTEMPTS_EXCEEDED'),
    ...bodyProblems(true),
    ...rateLimited,
    500: standardProblems[500],
    502: standardProblems[502],
    501: problem('Kratos older than v1.1.0 has no native recovery (NOT_SUPPORTED_BY_KRATOS); nothing was done'),
    503: problem('Kratos, the state store or the rate limiter is unavailable (KRATOS_UNAVAILABLE, STATE_UNAVAILABLE, LIMITER_UNAVAILABLE); retry after `Retry-After`', 'Retry-After'),
  },
});

/** `POST /v1/recovery`, `POST /v1/recovery/code`. */
export function recoveryRoutes(config: GatewayConfig) {
  const deps = async (c: AppContext): Promise<RecoveryDeps> => {
    const gateway = c.get('gateway');
    return {
      kratos: gateway.kratos,
      log: c.get('log'),
      now: gateway.now,
      cookies: gateway.cookies,
      cookieConfig: config.session.cookie,
      store: await gateway.idempotency(),
      config: config.recovery,
    };
  };
  // Kratos < v1.1.0 has no native recovery (a correct code answers 422 browser_location_change_required):
  // refused with 501 before any email is sent.
  const startHandler = async (c: AppContext, body: z.infer<typeof StartRecoveryRequest>) => {
    await requireKratosFeature(c.get('gateway'), 'native_recovery', c.get('requestId'));
    await enforceRateLimit(c, 'recovery', body.email);
    return c.json(await startRecovery(await deps(c), { email: body.email, client: await forwardedClient(c) }), 200);
  };
  const completeHandler = async (c: AppContext, body: z.infer<typeof CompleteRecoveryRequest>) => {
    await requireKratosFeature(c.get('gateway'), 'native_recovery', c.get('requestId'));
    await enforceRateLimit(c, 'recovery_code', body.flow);
    const delivery = chooseDelivery(c);
    return respondWithOutcome(c, await completeRecovery(await deps(c), { ...body, delivery, client: await forwardedClient(c) }));
  };
  const router = createRouter();
  router.post('/v1/recovery', acceptBody(StartRecoveryRequest, startHandler));
  router.post('/v1/recovery/code', acceptBody(CompleteRecoveryRequest, completeHandler));
  return router
    .openapi(start, async (c) => (await startHandler(c, c.req.valid('json'))) as never)
    .openapi(complete, async (c) => (await completeHandler(c, c.req.valid('json'))) as never);
}
