import { createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../errors.ts';
import { kratosFailure } from '../kratos/failure.ts';
import { headerRefs, problem, SessionSchema, sessionSecurity, standardProblems } from '../shared/openapi-schemas.ts';
import { createRouter } from '../shared/router.ts';
import type { SessionConfig } from './config.ts';
import { clearSessionCookie, hasSessionCookie } from './cookie.ts';
import { incomingSession } from './incoming.ts';

const whoami = createRoute({
  method: 'get',
  path: '/v1/session',
  operationId: 'getSession',
  tags: ['Session'],
  security: sessionSecurity,
  summary: 'Who am I',
  description: 'The current session, answered by Kratos `/sessions/whoami`, for the gateway cookie, `Authorization: Bearer` or `X-Session-Token`.',
  responses: {
    200: { description: 'The session', content: { 'application/json': { schema: z.object({ session: SessionSchema }).openapi('SessionResponse') } } },
    400: problem('The Authorization or X-Session-Token header is malformed (INVALID_AUTHORIZATION)'),
    401: problem('No valid session (UNAUTHENTICATED)'),
    403: problem('SECOND_FACTOR_REQUIRED: the session is valid but Kratos requires a second factor; step it up with POST /v1/login/second-factor (no handle)'),
    502: standardProblems[502],
    503: problem('Kratos is unavailable; retry after `Retry-After`', 'Retry-After'),
  },
});

const logout = createRoute({
  method: 'delete',
  path: '/v1/session',
  operationId: 'logout',
  tags: ['Session'],
  security: sessionSecurity,
  summary: 'Sign out',
  description: 'Revokes the session in Kratos and clears the gateway cookie. Signing out an already revoked session succeeds.',
  responses: {
    204: { description: 'Signed out (with cookie delivery, the cookie is cleared)', headers: headerRefs('Set-Cookie') },
    400: problem('The Authorization or X-Session-Token header is malformed (INVALID_AUTHORIZATION)'),
    401: problem('No session was sent (UNAUTHENTICATED)'),
    403: standardProblems[403],
    502: standardProblems[502],
    503: problem('Kratos is unavailable; retry after `Retry-After`', 'Retry-After'),
  },
});

/** `GET /v1/session` (who am I) and `DELETE /v1/session` (sign out). */
export function sessionRoutes(cookie: SessionConfig['cookie']) {
  return createRouter()
    .openapi(whoami, async (c) => {
      const incoming = await incomingSession(c);
      if (!incoming) {
        // A cookie that no longer opens (expired, rotated out, tampered) is cleared.
        if (hasSessionCookie(c, cookie)) clearSessionCookie(c, cookie);
        throw new AppError('UNAUTHENTICATED');
      }
      const result = await c.get('gateway').kratos.whoami(incoming.token, { requestId: c.get('requestId') });
      switch (result.kind) {
        case 'ok':
          return c.json({ session: result.session as unknown as z.infer<typeof SessionSchema> }, 200);
        case 'unauthenticated':
          if (incoming.via === 'cookie') clearSessionCookie(c, cookie);
          throw new AppError('UNAUTHENTICATED');
        default:
          throw kratosFailure(c.get('log'), 'whoami', result);
      }
    })
    .openapi(logout, async (c) => {
      const incoming = await incomingSession(c);
      if (!incoming) {
        if (hasSessionCookie(c, cookie)) {
          clearSessionCookie(c, cookie);
          return c.body(null, 204);
        }
        throw new AppError('UNAUTHENTICATED');
      }
      const result = await c.get('gateway').kratos.revokeSession(incoming.token, { requestId: c.get('requestId') });
      if (result.kind === 'unavailable' || result.kind === 'upstream_error') throw kratosFailure(c.get('log'), 'logout', result);
      // ok, or not_found (already gone): either way the client is signed out.
      if (incoming.via === 'cookie') clearSessionCookie(c, cookie);
      return c.body(null, 204);
    });
}
