import { createRoute, z } from '@hono/zod-openapi';
import { afterJobPlan } from '../after-jobs/plan.ts';
import { resolveRedirect } from '../after-jobs/redirect.ts';
import { replaySessionJobs } from '../after-jobs/replay.ts';
import { respondWithOutcome } from '../after-jobs/respond.ts';
import { enforceRateLimit } from '../abuse/limit.ts';
import type { AppContext } from '../app-env.ts';
import type { GatewayConfig } from '../config.ts';
import { AppError, validationError } from '../errors.ts';
import { kratosFailure } from '../kratos/failure.ts';
import { runNativeFlow } from '../kratos/native-flow.ts';
import type { SecondFactorSubmission } from '../kratos/port.ts';
import { chooseDelivery } from '../session/delivery.ts';
import { forwardedClient, incomingSession } from '../session/incoming.ts';
import { bodyProblems, headerRefs, optionalSessionSecurity, problem, rateLimited, SessionSchema, standardProblems } from '../shared/openapi-schemas.ts';
import { createRouter } from '../shared/router.ts';
import { handleSealerFor } from './handle.ts';

const SecondFactorRequest = z
  .strictObject({
    handle: z.string().min(1).max(16_384).optional().openapi({ description: 'From the SECOND_FACTOR_REQUIRED answer of a login. Omit it to step up the session sent with the request.' }),
    totp_code: z.string().min(1).max(64).optional().openapi({ description: 'The code of the authenticator app.', example: '123456' }),
    lookup_code: z.string().min(1).max(64).optional().openapi({ description: 'One of the backup (lookup) codes; each works once.' }),
  })
  .openapi('SecondFactorRequest');

const SecondFactorResponse = z
  .object({
    session: SessionSchema.optional().openapi({ description: 'The aal2 session (with a handle: when the session after-job ran).' }),
    session_token: z.string().optional().openapi({ description: 'Only with a handle and token delivery; a step-up keeps the token the client holds.' }),
    redirect_to: z.string().optional(),
  })
  .openapi('SecondFactorResponse');

type Body = z.infer<typeof SecondFactorRequest>;

const route = createRoute({
  method: 'post',
  path: '/v1/login/second-factor',
  operationId: 'completeSecondFactor',
  tags: ['Second factor'],
  // With `handle` no session is needed; without it, the session sent with the request is stepped up.
  security: optionalSessionSecurity,
  summary: 'Complete a sign-in with a second factor (TOTP or backup code), or step up a session',
  description:
    'With `handle` (from the SECOND_FACTOR_REQUIRED answer of POST /v1/login or POST /v1/login/code/verify): submits the code to a Kratos ' +
    '`aal=aal2` login flow with the sealed AAL1 session, then replays the login after-jobs (session as token or cookie, ' +
    'revoke_active_sessions, redirect) with the aal2 session. Without `handle`: steps up the session sent with the request ' +
    '(cookie, Bearer or X-Session-Token) in place, after a SECOND_FACTOR_REQUIRED answer without handle (GET /v1/session, settings); the client keeps its token or cookie. ' +
    'Exactly one of `totp_code` and `lookup_code`. A wrong code is a field error (CODE_INVALID); the same handle can be tried again.',
  request: {
    query: z.object({ return_to: z.string().optional() }),
    body: { required: true, content: { 'application/json': { schema: SecondFactorRequest } } },
  },
  responses: {
    200: {
      description: 'Signed in (or stepped up) at aal2; with a handle and cookie delivery, the session cookie is set',
      headers: headerRefs('Set-Cookie', 'RateLimit', 'RateLimit-Policy'),
      content: { 'application/json': { schema: SecondFactorResponse } },
    },
    400: problem(
      'Invalid input or a wrong code (VALIDATION_FAILED, CODE_INVALID), a handle that is invalid or expired (HANDLE_INVALID), ' +
        'return_to is not allowed (RETURN_TO_NOT_ALLOWED), a malformed credentials header (INVALID_AUTHORIZATION), or the session is aal2 already (SESSION_ALREADY_AVAILABLE)',
    ),
    401: problem('No handle and no valid session (UNAUTHENTICATED)'),
    403: standardProblems[403],
    ...bodyProblems(false),
    ...rateLimited,
    500: standardProblems[500],
    502: standardProblems[502],
    503: problem('Kratos or the rate limiter is unavailable (KRATOS_UNAVAILABLE, LIMITER_UNAVAILABLE); retry after `Retry-After`', 'Retry-After'),
  },
});

/** `POST /v1/login/second-factor`: the second step of a 2FA sign-in, or a step-up of the current session. */
export function secondFactorRoutes(config: GatewayConfig) {
  const plan = afterJobPlan(config.selfservice, 'login');
  const handles = handleSealerFor(config);

  async function complete(c: AppContext, body: Body): Promise<Response> {
    const gateway = c.get('gateway');
    const log = c.get('log');
    const submission = toSubmission(body);
    // Opening the handle asks nothing of Kratos; the limit is counted before any code is checked.
    // Per account: the sign-in identifier sealed in the handle (every handle of one account shares
    // the counter, so signing in again buys no new tries); a step-up counts per session.
    const payload = body.handle ? await handles.open('second_factor', body.handle, gateway.now()) : undefined;
    const incoming = body.handle ? undefined : await incomingSession(c);
    const account = typeof payload?.i === 'string' ? `identifier:${payload.i}` : typeof payload?.t === 'string' ? `session:${payload.t}` : incoming ? `session:${incoming.token}` : undefined;
    await enforceRateLimit(c, 'second_factor', account);
    const redirectTo = body.handle ? resolveRedirect(plan, c.req.url, gateway.returnToPolicy, log) : undefined;
    const delivery = body.handle ? chooseDelivery(c) : undefined;
    const forwarded = await forwardedClient(c);

    let token: string;
    if (body.handle) {
      if (typeof payload?.t !== 'string') throw new AppError('HANDLE_INVALID');
      token = payload.t;
    } else {
      if (!incoming) throw new AppError('UNAUTHENTICATED');
      token = incoming.token;
    }
    const client = { ...forwarded, sessionToken: token };
    const result = await runNativeFlow(gateway.kratos, 'login_second_factor', submission, client, {
      onExpired: () => log.info('aal2 login flow expired between create and submit; retrying with a new flow'),
    });
    switch (result.kind) {
      case 'ok':
        break;
      case 'unauthenticated':
        // The AAL1 session behind the handle ended (expired, revoked): start the sign-in again.
        throw new AppError(body.handle ? 'HANDLE_INVALID' : 'UNAUTHENTICATED');
      default:
        throw kratosFailure(log, 'login (second factor)', result);
    }
    log.info('second factor accepted', { identity_id: result.session.identity?.id, method: submission.method, step_up: !body.handle });
    if (!body.handle || !delivery) return c.json({ session: result.session as unknown as z.infer<typeof SessionSchema> }, 200);
    const deps = { kratos: gateway.kratos, log, now: gateway.now, cookies: gateway.cookies, cookieConfig: config.session.cookie };
    const session = await replaySessionJobs(deps, plan, { session: result.session, token: result.sessionToken }, delivery, client);
    return respondWithOutcome(c, { body: { ...session.output }, cookie: session.cookie, redirectTo });
  }

  return createRouter().openapi(route, (c) => complete(c, c.req.valid('json')) as never);
}

function toSubmission(body: Body): SecondFactorSubmission {
  if (body.totp_code !== undefined && body.lookup_code === undefined) return { method: 'totp', totpCode: body.totp_code };
  if (body.lookup_code !== undefined && body.totp_code === undefined) return { method: 'lookup_secret', lookupCode: body.lookup_code };
  const message = 'Send exactly one of totp_code and lookup_code.';
  throw validationError([{ pointer: body.totp_code === undefined ? '/totp_code' : '/lookup_code', code: body.totp_code === undefined ? 'REQUIRED' : 'INVALID_VALUE', message }]);
}
