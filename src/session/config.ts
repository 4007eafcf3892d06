import { z } from 'zod';

/**
 * How a session reaches the client (the `session` after-job) and how it comes back.
 * Token delivery: `session_token` in the body, for native clients. Cookie delivery: an
 * HttpOnly cookie whose value is the Kratos token sealed with AES-GCM under `secrets.session`;
 * the token is then never in the body.
 */
export const sessionConfigSchema = z
  .object({
    /** Default delivery. */
    delivery: z.enum(['token', 'cookie']).default('token'),
    /** Let a request pick with `X-Session-Delivery: token|cookie`. */
    client_choice: z.boolean().default(false),
    cookie: z
      .object({
        name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('kbff_session'),
        /** Switch off only for local http development. */
        secure: z.boolean().default(true),
        same_site: z.enum(['Lax', 'Strict', 'None']).default('Lax'),
        domain: z.string().min(1).optional(),
        /** Default: `server.base_path`, or `/` (filled in by the config schema). */
        path: z.string().startsWith('/').optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type SessionConfig = z.infer<typeof sessionConfigSchema>;
export type Delivery = 'token' | 'cookie';
