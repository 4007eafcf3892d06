import { createRoute, z } from '@hono/zod-openapi';
import { afterJobPlan } from '../after-jobs/plan.ts';
import type { GatewayConfig } from '../config.ts';
import { forwardedClient, type AppContext } from '../app-env.ts';
import { acceptBody } from '../middleware/body.ts';
import { AppError } from '../errors.ts';
import { replaySessionJobs, respondWithRedirect } from '../after-jobs/replay.ts';
import { flowFailure, performLogin } from '../kratos/native-flow.ts';
import { resolveRedirect } from '../after-jobs/redirect.ts';
import { createRouter } from '../shared/router.ts';
import { problemContent, SessionSchema } from '../shared/openapi-schemas.ts';
import { chooseDelivery } from '../session/delivery.ts';

const LoginRequest = z
  .strictObject({
    identifier: z.string().min(1).max(320).openapi({ example: 'ada@example.com' }),
    password: z.string().min(1).max(4096),
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
    'A wrong password and an unknown identifier get the same INVALID_CREDENTIALS answer.',
  request: {
    query: z.object({ return_to: z.string().optional() }),
    body: { required: true, content: { 'application/json': { schema: LoginRequest } } },
  },
  responses: {
    200: { description: 'Signed in', content: { 'application/json': { schema: LoginResponse } } },
    303: { description: 'Signed in (HTML form post): redirect' },
    400: { description: 'Invalid input, a session was sent, or return_to is not allowed', content: problemContent },
    401: { description: 'Wrong identifier or password', content: problemContent },
    403: { description: 'Cross-site request from an origin that is not allowed', content: problemContent },
    415: { description: 'Body is neither JSON nor an HTML form', content: problemContent },
    502: { description: 'Kratos answered unexpectedly', content: problemContent },
    503: { description: 'Kratos is unavailable', content: problemContent },
  },
});

export function loginRoutes(config: GatewayConfig) {
  const plan = afterJobPlan(config.selfservice, 'login');

  async function login(c: AppContext, body: LoginBody): Promise<Response> {
    const log = c.get('log');
    const redirectTo = resolveRedirect(c, plan);
    const delivery = chooseDelivery(c);
    const client = await forwardedClient(c);
    const result = await performLogin(c.get('deps').kratos, body, client, () =>
      log.info('login flow expired between create and submit; retrying with a new flow'),
    );
    switch (result.kind) {
      case 'ok': {
        log.info('login succeeded', { identity_id: result.session.identity?.id, delivery });
        const session = await replaySessionJobs(c, plan, { session: result.session, token: result.sessionToken }, delivery, client);
        return respondWithRedirect(c, { ...session }, redirectTo);
      }
      case 'invalid_credentials':
        throw new AppError('INVALID_CREDENTIALS');
      default:
        throw flowFailure(c, 'login', result);
    }
  }

  const router = createRouter();
  router.post('/v1/login', acceptBody(LoginRequest, login));
  return router.openapi(route, (c) => login(c, c.req.valid('json')) as never);
}
