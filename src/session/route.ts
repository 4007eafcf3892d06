import { createRoute, z } from '@hono/zod-openapi';
import type { AppContext } from '../app-env.ts';
import { AppError } from '../errors.ts';
import { createRouter } from '../shared/router.ts';
import { problemContent, SessionSchema } from '../shared/openapi-schemas.ts';
import { clearSessionCookie, hasSessionCookie, incomingSession } from './delivery.ts';

const whoami = createRoute({
  method: 'get',
  path: '/v1/session',
  summary: 'Who am I',
  description: 'The current session, answered by Kratos `/sessions/whoami`, for the gateway cookie, `Authorization: Bearer` or `X-Session-Token`.',
  responses: {
    200: { description: 'The session', content: { 'application/json': { schema: z.object({ session: SessionSchema }).openapi('SessionResponse') } } },
    401: { description: 'No valid session', content: problemContent },
    503: { description: 'Kratos is unavailable', content: problemContent },
  },
});

const logout = createRoute({
  method: 'delete',
  path: '/v1/session',
  summary: 'Sign out',
  description: 'Revokes the session in Kratos and clears the gateway cookie. Signing out an already revoked session succeeds.',
  responses: {
    204: { description: 'Signed out' },
    401: { description: 'No session was sent', content: problemContent },
    403: { description: 'Cross-site request from an origin that is not allowed', content: problemContent },
    503: { description: 'Kratos is unavailable', content: problemContent },
  },
});

function unavailable(c: AppContext, what: string, problem: unknown): AppError {
  c.get('log').error(`kratos unavailable during ${what}`, { upstream: problem });
  return new AppError('KRATOS_UNAVAILABLE');
}

export function sessionRoutes() {
  return createRouter()
    .openapi(whoami, async (c) => {
      const incoming = await incomingSession(c);
      if (!incoming) {
        // A cookie that no longer opens (expired, rotated out, tampered) is cleared.
        if (hasSessionCookie(c)) clearSessionCookie(c);
        throw new AppError('UNAUTHENTICATED');
      }
      const result = await c.get('deps').kratos.whoami(incoming.token, { requestId: c.get('requestId') });
      switch (result.kind) {
        case 'ok':
          return c.json({ session: result.session as unknown as z.infer<typeof SessionSchema> }, 200);
        case 'unauthenticated':
          if (incoming.via === 'cookie') clearSessionCookie(c);
          throw new AppError('UNAUTHENTICATED');
        case 'unavailable':
          throw unavailable(c, 'whoami', result.problem);
        case 'upstream_error':
          c.get('log').error('unexpected kratos answer during whoami', { upstream: result.problem });
          throw new AppError('UPSTREAM_ERROR');
      }
    })
    .openapi(logout, async (c) => {
      const incoming = await incomingSession(c);
      if (!incoming) {
        if (hasSessionCookie(c)) {
          clearSessionCookie(c);
          return c.body(null, 204);
        }
        throw new AppError('UNAUTHENTICATED');
      }
      const result = await c.get('deps').kratos.revokeSession(incoming.token, { requestId: c.get('requestId') });
      if (result.kind === 'unavailable') throw unavailable(c, 'logout', result.problem);
      if (result.kind === 'upstream_error') {
        c.get('log').error('unexpected kratos answer during logout', { upstream: result.problem });
        throw new AppError('UPSTREAM_ERROR');
      }
      // ok, or not_found (already gone): either way the client is signed out.
      if (incoming.via === 'cookie') clearSessionCookie(c);
      return c.body(null, 204);
    });
}
