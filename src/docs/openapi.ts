import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env.ts';
import type { GatewayConfig } from '../config.ts';
import { registerOpenApiComponents } from '../shared/openapi-schemas.ts';

/**
 * Serves `/openapi.json`, generated from the routes' `createRoute` definitions, with the shared
 * components (security schemes, headers, error answers) and `servers` from the config.
 */
export function serveOpenApiDocument(app: OpenAPIHono<AppEnv>, config: GatewayConfig): void {
  registerOpenApiComponents(app, config.session.cookie.name);
  const configured = config.openapi.servers.map(({ url, description }) => (description === undefined ? { url } : { url, description }));
  const servers = configured.length > 0 ? configured : [{ url: config.server.base_path || '/' }];
  const objectConfig = {
    openapi: '3.1.0' as const,
    info: {
      title: 'kratos-bff',
      version: '1',
      description: 'Sign-up and sign-in gateway for Ory Kratos. Errors are RFC 9457 application/problem+json.',
      license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
    },
    servers,
    tags: [
      { name: 'Sign-up and sign-in', description: 'One request per flow; Kratos flows are created and submitted by the gateway.' },
      { name: 'Passwordless code', description: 'Sign-in and sign-up with a code sent by email (Kratos code method), in two requests: send, then verify.' },
      { name: 'Second factor', description: 'TOTP and backup (lookup) codes: the second step of a sign-in, a step-up of the session, and enrolment for the signed-in user.' },
      { name: 'Session', description: 'The current session: who am I, sign out.' },
      { name: 'Settings', description: 'Changes by the signed-in user: password and profile traits (may need a recent sign-in).' },
      { name: 'Verification', description: 'Email address verification with an emailed code.' },
      { name: 'Recovery', description: 'Account recovery with an emailed code, ending with a new password and a session.' },
      { name: 'Health', description: 'Liveness and readiness probes.' },
    ],
  };
  // Generated once, on the first request (every route is registered by then), not per request:
  // it takes tens of milliseconds. A generation error goes to onError (a plain 500), unlike
  // doc31(), which would answer with the error object itself.
  let document: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  app.get('/openapi.json', (c) => c.json((document ??= app.getOpenAPI31Document(objectConfig))));
}
