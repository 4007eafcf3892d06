import { createRoute, z } from '@hono/zod-openapi';
import { afterJobPlan } from '../after-jobs/plan.ts';
import { resolveRedirect } from '../after-jobs/redirect.ts';
import { respondWithOutcome } from '../after-jobs/respond.ts';
import { beginLoginAttempt, enforceRateLimit } from '../abuse/limit.ts';
import type { AppContext } from '../app-env.ts';
import type { GatewayConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { acceptBody } from '../middleware/body.ts';
import { chooseDelivery } from '../session/delivery.ts';
import { forwardedClient } from '../session/incoming.ts';
import { flowResponses, noSecurity, problem, SessionSchema } from '../shared/openapi-schemas.ts';
import { createRouter } from '../shared/router.ts';
import { handleSealerFor } from '../second-factor/handle.ts';
import { signIn, type SignInDeps } from './sign-in.ts';

const LoginRequest = z
  .strictObject({
    identifier: z.string().min(1).max(320).openapi({ example: 'ada@example.com' }),
    password: z.string().min(1).max(4096),
    refresh: z.boolean().optional().openapi({
      description:
        'Re-authenticate the session sent with the request (cookie, Bearer or X-Session-Token) instead of starting a new one (Kratos `refresh=true`): ' +
        'the same session becomes recent again (privileged for settings) and is returned in the same delivery mode. The identifier must belong to that session.',
    }),
  })
  .openapi('LoginRequest');

const LoginResponse = z
  .object({
    session: SessionSchema.optional().openapi({ description: 'Present when the session after-job ran.' }),
    session_token: z.string().optional().openapi({ description: 'Only with token delivery.' }),
    redirect_to: z.string().optional(),
  })
  .openapi('LoginResponse');

type LoginBody = z.infer<typeof LoginRequest>;

const route = createRoute({
  method: 'post',
  path: '/v1/login',
  operationId: 'login',
  tags: ['Sign-up and sign-in'],
  security: noSecurity,
  summary: 'Sign in in one request',
  description:
    'Creates and submits a Kratos native login flow, then replays the login after-jobs (session, revoke_active_sessions, redirect). ' +
    'A wrong password and an unknown identifier get the same INVALID_CREDENTIALS answer. ' +
    'With a session and without `refresh: true`: SESSION_ALREADY_AVAILABLE; with `refresh: true`, the session is re-authenticated (after a REAUTHENTICATION_REQUIRED from settings).',
  request: {
    query: z.object({ return_to: z.string().optional() }),
    body: { required: true, content: { 'application/json': { schema: LoginRequest } } },
  },
  responses: flowResponses({
    ok: { description: 'Signed in', schema: LoginResponse, headers: ['RateLimit', 'RateLimit-Policy'] },
    redirect: 'Signed in (HTML form post): redirect',
    problems: {
      // 429 RATE_LIMITED comes with flowResponses (login is rate limited, src/abuse/).
      400: problem('Invalid input, a session was sent, or return_to is not allowed'),
      401: problem('Wrong identifier or password (INVALID_CREDENTIALS); or `refresh: true` without a valid session'),
      403: problem(
        'SECOND_FACTOR_REQUIRED: the password was right and the account has a second factor; the problem document carries ' +
          '`handle`, `methods` (`totp`, `lookup_code`) and `handle_expires_at`; continue with POST /v1/login/second-factor. ' +
          'ORIGIN_NOT_ALLOWED: a cross-site request from an origin that is not allowed.',
      ),
      413: problem('The body is too large (PAYLOAD_TOO_LARGE)'),
      503: problem('Kratos is unavailable; retry after `Retry-After`', 'Retry-After'),
    },
  }),
});

/** `POST /v1/login`: the HTTP side of a sign-in (the sign-in itself is `signIn`). */
export function loginRoutes(config: GatewayConfig) {
  const plan = afterJobPlan(config.selfservice, 'login');

  async function login(c: AppContext, body: LoginBody): Promise<Response> {
    const gateway = c.get('gateway');
    const log = c.get('log');
    const redirectTo = resolveRedirect(plan, c.req.url, gateway.returnToPolicy, log);
    const delivery = chooseDelivery(c);
    const client = await forwardedClient(c);
    const deps: SignInDeps = {
      kratos: gateway.kratos,
      log,
      now: gateway.now,
      cookies: gateway.cookies,
      cookieConfig: config.session.cookie,
      plan,
      handles: handleSealerFor(config),
    };
    // Abuse resistance (src/abuse/): rate limits, then the brute-force block and equal timing.
    const { refresh, ...submission } = body;
    await enforceRateLimit(c, 'login', submission.identifier);
    const attempt = await beginLoginAttempt(c, submission.identifier);
    let outcome: Awaited<ReturnType<typeof signIn>>;
    try {
      outcome = await signIn(deps, { submission, delivery, redirectTo, client, refresh: refresh === true });
    } catch (err) {
      if (err instanceof AppError && err.code === 'INVALID_CREDENTIALS') await attempt.failed();
      throw err;
    }
    await attempt.succeeded();
    return respondWithOutcome(c, outcome);
  }

  const router = createRouter();
  // An HTML form sends `refresh=true` (or a checked box, `on`) as a string.
  const prepare = (form: Record<string, unknown>) =>
    'refresh' in form ? { ...form, refresh: form.refresh === 'true' || form.refresh === 'on' } : form;
  router.post('/v1/login', acceptBody(LoginRequest, login, prepare));
  return router.openapi(route, (c) => login(c, c.req.valid('json')));
}
