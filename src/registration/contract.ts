import { createRoute, z } from '@hono/zod-openapi';
import type { GatewayConfig } from '../config.ts';
import { flowProblemResponses, IdentitySchema, problemContent, SessionSchema } from '../shared/openapi-schemas.ts';
import { compileFields } from './fields.ts';

/**
 * The contract of `POST /v1/registration`: the request and response schemas (built from the
 * configured extra fields) and the OpenAPI route that validates and documents them.
 */
export function registrationContract(config: GatewayConfig) {
  const request = z
    .strictObject({
      traits: z
        .record(z.string(), z.unknown())
        .openapi({ description: 'Identity traits, validated by the Kratos identity schema.', example: { email: 'ada@example.com' } }),
      password: z.string().min(1).max(4096).openapi({ example: 'correct-horse-battery-staple' }),
      fields: compileFields(config.registration.fields).openapi({ description: 'Extra fields declared in the gateway config.' }),
    })
    .openapi('RegistrationRequest');

  const response = z
    .object({
      identity: IdentitySchema.optional().openapi({ description: 'The new identity; absent with registration.enumeration_safe (it would tell a new account from an existing one).' }),
      session: SessionSchema.optional().openapi({ description: 'Present when the session after-job ran.' }),
      session_token: z.string().optional().openapi({ description: 'The Kratos session token, only with token delivery.' }),
      redirect_to: z.string().optional().openapi({ description: 'Where to send the user, when the redirect after-job ran.' }),
      services: z
        .array(z.object({ service: z.string(), outcome: z.enum(['failed', 'rejected', 'retrying']) }))
        .optional()
        .openapi({ description: 'After services that did not complete but did not stop the sign-up (on_failure: continue or retry_later).' }),
      verification: z
        .object({
          flow: z.string().openapi({ description: 'Verification flow handle for POST /v1/verification/code (and re-sends with POST /v1/verification).' }),
          sent_to: z.string().openapi({ description: 'The address the code was sent to.' }),
        })
        .optional()
        .openapi({ description: 'Present when Kratos verification is on: a code was emailed; the app can go straight to the code screen.' }),
      continue_with: z.array(z.looseObject({ action: z.string() })).openapi({ description: 'Kratos\'s continue_with as is (without the session token item), kept for compatibility.' }),
    })
    .openapi('RegistrationResponse');

  const route = createRoute({
    method: 'post',
    path: '/v1/registration',
    summary: 'Sign up in one request',
    description:
      'Validates the body, creates and submits a Kratos native registration flow, then replays the registration after-jobs ' +
      '(session as token or cookie, redirect). A session token in `Authorization: Bearer` or `X-Session-Token` (or the gateway cookie) ' +
      'is forwarded to Kratos, which refuses sign-up for a signed-in user. `X-Session-Delivery: token|cookie` picks the delivery when ' +
      'the config allows. A plain HTML form post (application/x-www-form-urlencoded, dotted names like `traits.email`) gets a cookie and a 303.',
    request: {
      query: z.object({ return_to: z.string().optional().openapi({ description: 'Used by the redirect after-job with allow_user_defined, if on the allow-list.' }) }),
      body: { required: true, content: { 'application/json': { schema: request } } },
      headers: z.object({
        'x-session-delivery': z.enum(['token', 'cookie']).optional(),
        'idempotency-key': z.string().optional().openapi({ description: 'Same key + same body replays the first answer; a different body → 422; still running → 409.' }),
      }),
    },
    responses: {
      ...flowProblemResponses,
      200: { description: 'Signed up', content: { 'application/json': { schema: response } } },
      303: { description: 'Signed up (HTML form post): redirect to the redirect job target' },
      400: { description: 'Invalid input (field errors), a session was sent, or return_to is not allowed', content: problemContent },
      409: { description: 'A request with the same Idempotency-Key is still running', content: problemContent },
      415: { description: 'Body is not JSON', content: problemContent },
      422: { description: 'The Idempotency-Key was used with a different body', content: problemContent },
      500: { description: 'A failed sign-up could not be undone (logged with the identity id)', content: problemContent },
      503: { description: 'Kratos or a required service is unavailable, or the sign-up was rolled back; retry after `Retry-After`', content: problemContent },
    },
  });

  return { request, route };
}
