import { createRoute, z } from '@hono/zod-openapi';
import { afterJobPlan } from '../after-jobs/plan.ts';
import { resolveRedirect } from '../after-jobs/redirect.ts';
import { respondWithOutcome } from '../after-jobs/respond.ts';
import { enforceRateLimit } from '../abuse/limit.ts';
import type { AppContext } from '../app-env.ts';
import type { GatewayConfig } from '../config.ts';
import { requireKratosFeature } from '../kratos/version.ts';
import { handleSealerFor } from '../second-factor/handle.ts';
import { chooseDelivery } from '../session/delivery.ts';
import { forwardedClient } from '../session/incoming.ts';
import { bodyProblems, headerRefs, noSecurity, problem, rateLimited, SessionSchema, standardProblems } from '../shared/openapi-schemas.ts';
import { createRouter } from '../shared/router.ts';
import { sendLoginCode, verifyLoginCode } from './code.ts';
import type { SignInDeps } from './sign-in.ts';

const SendRequest = z.strictObject({ identifier: z.string().min(1).max(320).openapi({ example: 'ada@example.com' }) }).openapi('LoginCodeRequest');
const SendResponse = z
  .object({ handle: z.string().openapi({ description: 'Opaque; send it with the code to POST /v1/login/code/verify.' }) })
  .openapi('LoginCodeResponse');
const VerifyRequest = z
  .strictObject({
    handle: z.string().min(1).max(16_384),
    code: z.string().min(1).max(64).openapi({ description: 'The code from the email.', example: '123456' }),
  })
  .openapi('LoginCodeVerifyRequest');
const VerifyResponse = z
  .object({ session: SessionSchema.optional(), session_token: z.string().optional(), redirect_to: z.string().optional() })
  .openapi('LoginCodeVerifyResponse');

const send = createRoute({
  method: 'post',
  path: '/v1/login/code',
  operationId: 'sendLoginCode',
  tags: ['Passwordless code'],
  security: noSecurity,
  summary: 'Send a sign-in code by email (passwordless)',
  description:
    'Runs the send step of a Kratos native login flow with the code method. The answer is the same whether or not an account ' +
    'exists for the identifier (an unknown identifier gets a handle that never verifies). Needs Kratos with ' +
    '`selfservice.methods.code.passwordless_enabled: true`.',
  request: { body: { required: true, content: { 'application/json': { schema: SendRequest } } } },
  responses: {
    200: {
      description: 'A code was sent if the account exists',
      headers: headerRefs('RateLimit', 'RateLimit-Policy'),
      content: { 'application/json': { schema: SendResponse } },
    },
    400: problem('Invalid input (VALIDATION_FAILED, INVALID_JSON)'),
    403: standardProblems[403],
    ...bodyProblems(false),
    ...rateLimited,
    500: standardProblems[500],
    502: standardProblems[502],
    501: problem('Kratos older than v1.1.0 has no code sign-in (NOT_SUPPORTED_BY_KRATOS); nothing was done'),
    503: problem('Kratos or the rate limiter is unavailable (KRATOS_UNAVAILABLE, LIMITER_UNAVAILABLE); retry after `Retry-After`', 'Retry-After'),
  },
});

const verify = createRoute({
  method: 'post',
  path: '/v1/login/code/verify',
  operationId: 'verifyLoginCode',
  tags: ['Passwordless code'],
  security: noSecurity,
  summary: 'Sign in with the emailed code',
  description:
    'Submits the code to the flow behind `handle`, then finishes like POST /v1/login: SECOND_FACTOR_REQUIRED for an account with a ' +
    'second factor, else the login after-jobs (session as token or cookie, revoke_active_sessions, redirect). A wrong code is a field error ' +
    '(CODE_INVALID) and can be retried; Kratos allows 5 code submissions per flow, then CODE_ATTEMPTS_EXCEEDED: ask for a new code.',
  request: {
    query: z.object({ return_to: z.string().optional() }),
    body: { required: true, content: { 'application/json': { schema: VerifyRequest } } },
  },
  responses: {
    200: {
      description: 'Signed in (the session as token or cookie)',
      headers: headerRefs('Set-Cookie', 'RateLimit', 'RateLimit-Policy'),
      content: { 'application/json': { schema: VerifyResponse } },
    },
    400: problem('Invalid input or a wrong code (VALIDATION_FAILED, CODE_INVALID at `/code`), a handle that is invalid or expired (HANDLE_INVALID), or return_to is not allowed (RETURN_TO_NOT_ALLOWED)'),
    403: problem(
      'SECOND_FACTOR_REQUIRED: the code was right and the account has a second factor; the problem document carries `handle` and `methods`; ' +
        'continue with POST /v1/login/second-factor. ORIGIN_NOT_ALLOWED: a cross-site request from an origin that is not allowed.',
    ),
    410: problem('Ask for a new code with POST /v1/login/code: CODE_EXPIRED or CODE_ATTEMPTS_EXCEEDED'),
    ...bodyProblems(false),
    ...rateLimited,
    500: standardProblems[500],
    502: standardProblems[502],
    501: problem('Kratos older than v1.1.0 has no code sign-in (NOT_SUPPORTED_BY_KRATOS); nothing was done'),
    503: problem('Kratos or the rate limiter is unavailable (KRATOS_UNAVAILABLE, LIMITER_UNAVAILABLE); retry after `Retry-After`', 'Retry-After'),
  },
});

/** `POST /v1/login/code` and `POST /v1/login/code/verify`. */
export function loginCodeRoutes(config: GatewayConfig) {
  const plan = afterJobPlan(config.selfservice, 'login');
  const handles = handleSealerFor(config);

  function depsOf(c: AppContext): SignInDeps {
    const gateway = c.get('gateway');
    return { kratos: gateway.kratos, log: c.get('log'), now: gateway.now, cookies: gateway.cookies, cookieConfig: config.session.cookie, plan, handles };
  }

  return createRouter()
    .openapi(send, async (c) => {
      await requireKratosFeature(c.get('gateway'), 'code_login', c.get('requestId'));
      const { identifier } = c.req.valid('json');
      // Before sendLoginCode's answer floor starts: a 429 depends on counts, not on the account.
      await enforceRateLimit(c, 'login_code', identifier);
      return c.json(await sendLoginCode(depsOf(c), identifier, await forwardedClient(c)), 200);
    })
    .openapi(verify, async (c) => {
      await requireKratosFeature(c.get('gateway'), 'code_login', c.get('requestId'));
      await enforceRateLimit(c, 'login_code_verify', c.req.valid('json').handle);
      const deps = depsOf(c);
      const redirectTo = resolveRedirect(plan, c.req.url, c.get('gateway').returnToPolicy, deps.log);
      const delivery = chooseDelivery(c);
      const body = c.req.valid('json');
      const outcome = await verifyLoginCode(deps, { handle: body.handle, code: body.code, delivery, redirectTo, client: await forwardedClient(c) });
      return respondWithOutcome(c, outcome) as never;
    });
}
