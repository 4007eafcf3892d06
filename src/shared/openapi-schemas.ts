import { z } from '@hono/zod-openapi';
import { errorCodes, type ErrorCode } from '../errors.ts';

/** Shared OpenAPI/zod schemas for responses. */

const codeEnum = z.enum(Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]]);

export const FieldErrorSchema = z
  .object({
    pointer: z.string().openapi({ example: '/traits/email', description: 'JSON pointer into the request body; "" for the whole request.' }),
    code: codeEnum,
    message: z.string(),
    kratos: z.object({ id: z.int() }).optional().openapi({ description: 'The Kratos UI message id this error came from.' }),
  })
  .openapi('FieldError');

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    code: codeEnum.openapi({
      description: Object.entries(errorCodes)
        .map(([k, v]) => `- \`${k}\`: ${v.message}`)
        .join('\n'),
    }),
    detail: z.string(),
    request_id: z.string(),
    errors: z.array(FieldErrorSchema),
  })
  .openapi('Problem');

export const problemContent = {
  'application/problem+json': { schema: ProblemSchema },
} as const;

/** Answers every flow route (registration, login) can give besides its own. */
export const flowProblemResponses = {
  403: { description: 'Cross-site request from an origin that is not allowed', content: problemContent },
  502: { description: 'Kratos answered unexpectedly', content: problemContent },
} as const;

/** Kratos's identity and session objects, passed through (credentials are never included). */
export const IdentitySchema = z
  .looseObject({ id: z.string(), schema_id: z.string(), traits: z.record(z.string(), z.unknown()) })
  .openapi('Identity', { description: 'The Kratos identity (without credentials or admin metadata).' });

export const SessionSchema = z
  .looseObject({ id: z.string(), active: z.boolean().optional(), expires_at: z.string().optional() })
  .openapi('Session', { description: 'The Kratos session.' });
