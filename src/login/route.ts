import { createRoute, z } from '@hono/zod-openapi';
import { afterJobPlan } from '../after-jobs/plan.ts';
import { resolveRedirect } from '../after-jobs/redirect.ts';
import { respondWithOutcome } from '../after-jobs/respond.ts';
import type { AppContext } from '../app-env.ts';
import type { GatewayConfig } from '../config.ts';
import { acceptBody } from '../middleware/body.ts';
import { chooseDelivery } from '../session/delivery.ts';
import { forwardedClient } from '../session/incoming.ts';
import { flowProblemResponses, problemContent, SessionSchema } from '../shared/openapi-schemas.ts';
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
  summary: 'Sign in in one request',
  description:
    'Creates and submits a Kratos native login flow, then replays the login after-jobs (session, revoke_active_sessions, redirect). ' +
    'A wrong password and an unknown identifier get the same INVALID_CREDENTIALS answer. ' +
    'With a session and without `refresh: true`: SESSION_ALREADY_AVAILABLE; with `refresh: true`, the session is re-authenticated (after a REAUTHENTICATION_REQUIRED from settings).',
  request: {
    query: z.object({ return_to: z.string().optional() }),
    body: { required: true, content: { 'application/json': { schema: LoginRequest } } },
  },
  responses: {
    ...flowProblemResponses,
    200: { description: 'Signed in', content: { 'application/json': { schema: LoginResponse } } },
    303: { description: 'Signed in (HTML form post): redirect' },
    400: { description: 'Invalid input, a session was sent, or return_to is not allowed', content: problemContent },
    401: { description: 'Wrong identifier or password; or `refresh: true` without a valid session', content: problemContent },
    403: {
      description:
        'SECOND_FACTOR_REQUIRED: the password was right and the account has a second factor; the problem document carries ' +
        '`handle`, `methods` (`totp`, `lookup_code`) and `handle_expires_at`; continue with POST /v1/login/second-factor',
      content: problemContent,
    },
    415: { description: 'Body is neither JSON nor an HTML form', content: problemContent },
    503: { description: 'Kratos is unavailable', content: problemContent },
  },
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
    const { refresh, ...submission } = body;
    return respondWithOutcome(c, await signIn(deps, { submission, delivery, redirectTo, client, refresh: refresh === true }));
  }

  const router = createRouter();
  // An HTML form sends `refresh=true` (or a checked box, `on`) as a string.
  const prepare = (form: Record<string, unknown>) =>
    'refresh' in form ? { ...form, refresh: form.refresh === 'true' || form.refresh === 'on' } : form;
  router.post('/v1/login', acceptBody(LoginRequest, login, prepare));
  return router.openapi(route, (c) => login(c, c.req.valid('json')));
}
