import { createRoute, z } from '@hono/zod-openapi';
import type { AppContext } from '../app-env.ts';
import { AppError } from '../errors.ts';
import { acceptBody } from '../middleware/body.ts';
import { forwardedClient } from '../session/incoming.ts';
import { standardProblems, IdentitySchema, problemContent, sessionSecurity } from '../shared/openapi-schemas.ts';
import { createRouter } from '../shared/router.ts';
import { changePassword, updateProfile, type SettingsDeps } from './change.ts';

const ChangePasswordRequest = z
  .strictObject({ password: z.string().min(1).max(4096).openapi({ example: 'a-new-long-passphrase' }) })
  .openapi('ChangePasswordRequest');

const UpdateProfileRequest = z
  .strictObject({
    traits: z.record(z.string(), z.unknown()).openapi({
      description:
        'A JSON Merge Patch (RFC 7396) over the current traits: objects merge key by key, other values (arrays included) replace, `null` deletes a trait, unnamed traits are kept.',
      example: { name: { first: 'Ada' } },
    }),
  })
  .openapi('UpdateProfileRequest');

const SettingsResponse = z.object({ identity: IdentitySchema }).openapi('SettingsResponse');

const sessionResponses = {
  500: standardProblems[500],
    502: standardProblems[502],
  400: { description: 'Invalid input (field errors with JSON pointers), or a malformed credentials header', content: problemContent },
  401: { description: 'No valid session (UNAUTHENTICATED)', content: problemContent },
  403: {
    description:
      'REAUTHENTICATION_REQUIRED: the session is older than Kratos\'s `privileged_session_max_age`; sign in again with `POST /v1/login` `{"refresh": true}` and retry. ' +
      'SECOND_FACTOR_REQUIRED: the session has not completed the second factor. ORIGIN_NOT_ALLOWED: cross-site request.',
    content: problemContent,
  },
  415: { description: 'Body is not JSON', content: problemContent },
  503: { description: 'Kratos is unavailable', content: problemContent },
} as const;

const passwordRoute = createRoute({
  method: 'post',
  path: '/v1/settings/password',
  operationId: 'changePassword',
  security: sessionSecurity,
  summary: 'Change the password of the signed-in user',
  description:
    'Runs a Kratos native settings flow (`method: password`) with the session (cookie, `Authorization: Bearer` or `X-Session-Token`). ' +
    'Password policy failures are field errors at `/password`. Kratos\'s own `selfservice.flows.settings.after.password.hooks` (e.g. `revoke_active_sessions`) run inside Kratos.',
  request: { body: { required: true, content: { 'application/json': { schema: ChangePasswordRequest } } } },
  responses: { ...sessionResponses, 200: { description: 'Password changed', content: { 'application/json': { schema: SettingsResponse } } } },
});

const profileRoute = createRoute({
  method: 'patch',
  path: '/v1/settings/profile',
  operationId: 'updateProfile',
  security: sessionSecurity,
  summary: 'Update the profile traits of the signed-in user',
  description:
    'Merges `traits` (RFC 7396) over the identity\'s current traits and submits the result through a Kratos native settings flow (`method: profile`, which replaces all traits). ' +
    'Kratos validates against the identity schema; errors are at `/traits/...`. Changing an identifier or verifiable address (e.g. the email) needs a recent session.',
  request: { body: { required: true, content: { 'application/json': { schema: UpdateProfileRequest } } } },
  responses: { ...sessionResponses, 200: { description: 'Profile updated', content: { 'application/json': { schema: SettingsResponse } } } },
});

/** The signed-in client's session, or 401 before any Kratos call. */
async function sessionClient(c: AppContext) {
  const client = await forwardedClient(c);
  if (!client.sessionToken) throw new AppError('UNAUTHENTICATED');
  return client;
}

const deps = (c: AppContext): SettingsDeps => ({ kratos: c.get('gateway').kratos, log: c.get('log') });

/** `POST /v1/settings/password`, `PATCH /v1/settings/profile`. */
export function settingsRoutes() {
  const router = createRouter();
  const password = async (c: AppContext, body: z.infer<typeof ChangePasswordRequest>) =>
    c.json(await changePassword(deps(c), { password: body.password, client: await sessionClient(c) }), 200);
  const profile = async (c: AppContext, body: z.infer<typeof UpdateProfileRequest>) =>
    c.json(await updateProfile(deps(c), { patch: body.traits, client: await sessionClient(c) }), 200);
  router.post('/v1/settings/password', acceptBody(ChangePasswordRequest, password));
  // PATCH is never an HTML form post: this only runs the JSON body checks (UTF-8, depth).
  router.patch('/v1/settings/profile', acceptBody(UpdateProfileRequest, profile));
  return router
    .openapi(passwordRoute, async (c) => (await password(c, c.req.valid('json'))) as never)
    .openapi(profileRoute, async (c) => (await profile(c, c.req.valid('json'))) as never);
}
