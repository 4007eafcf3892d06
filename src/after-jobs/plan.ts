import { z } from 'zod';

/**
 * After-jobs, in the shape of Kratos's own config so a block can be pasted over:
 *
 *   registration: { after: { password: [ {job: session}, {job: redirect, config: {redirect_to, allow_user_defined}} ] } }
 *   login:        { after: { password: [ {job: session}, {job: revoke_active_sessions}, {job: redirect, …} ] } }
 *
 * The newer Kratos form is accepted too: `password: { hooks: [ {hook: session}, … ], default_browser_return_url }`.
 * Only jobs the gateway can replay are allowed; anything else is a config error rather than
 * a silent no-op (Kratos's own web hooks keep running inside Kratos).
 */

const redirectConfig = z
  .object({
    redirect_to: z.url({ error: 'must be an absolute URL' }).optional(),
    allow_user_defined: z.boolean().default(false),
  })
  .strict();

const job = z.discriminatedUnion('job', [
  z.object({ job: z.literal('session') }).strict(),
  z.object({ job: z.literal('revoke_active_sessions') }).strict(),
  z.object({ job: z.literal('redirect'), config: redirectConfig.prefault({}) }).strict(),
]);

const hook = z
  .object({ hook: z.enum(['session', 'revoke_active_sessions'], { error: 'the gateway replays only the session and revoke_active_sessions hooks' }) })
  .strict()
  .transform((h) => ({ job: h.hook }) as z.infer<typeof job>);

const hooksForm = z
  .object({
    hooks: z.array(hook).default([]),
    default_browser_return_url: z.url().optional(),
  })
  .strict()
  .transform((h) => [
    ...h.hooks,
    ...(h.default_browser_return_url ? [{ job: 'redirect' as const, config: { redirect_to: h.default_browser_return_url, allow_user_defined: false } }] : []),
  ]);

const jobList = z.union([z.array(job), hooksForm]);

const strategyJobs = z
  .object({ password: jobList.optional() })
  .strict()
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    for (const [i, j] of (Array.isArray(s.password) ? s.password : []).entries()) {
      if (seen.has(j.job)) ctx.addIssue({ code: 'custom', path: ['password', i], message: `job ${j.job} is listed twice` });
      seen.add(j.job);
    }
  });

const defaultJobs = [{ job: 'session' as const }];

// --- verification (issue 13) ---
/**
 * The verification flow's after-jobs: only `redirect` (nothing else happens after a verified
 * address). Kratos's shape `after: { default_browser_return_url }` or the job list
 * `after: [ {job: redirect, config: {redirect_to, allow_user_defined}} ]`.
 */
const verificationAfter = z.union([
  z.array(z.object({ job: z.literal('redirect', { error: 'verification replays only the redirect job' }), config: redirectConfig.prefault({}) }).strict()).max(1),
  z
    .object({ default_browser_return_url: z.url().optional() })
    .strict()
    .transform((h) => (h.default_browser_return_url ? [{ job: 'redirect' as const, config: { redirect_to: h.default_browser_return_url, allow_user_defined: false } }] : [])),
]);
// --- end verification ---

export const selfserviceConfigSchema = z
  .object({
    registration: z.object({ after: strategyJobs.prefault({}) }).strict().prefault({}),
    login: z.object({ after: strategyJobs.prefault({}) }).strict().prefault({}),
    verification: z.object({ after: verificationAfter.default([]) }).strict().prefault({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    const reg = s.registration.after.password ?? [];
    if (reg.some((j) => j.job === 'revoke_active_sessions')) {
      ctx.addIssue({ code: 'custom', path: ['registration', 'after', 'password'], message: 'revoke_active_sessions is a login job' });
    }
  });

export type SelfserviceConfig = z.infer<typeof selfserviceConfigSchema>;

export interface AfterJobPlan {
  /** Deliver the session to the client (without it the Kratos session is revoked again). */
  session: boolean;
  revokeActiveSessions: boolean;
  redirect?: { redirectTo?: string | undefined; allowUserDefined: boolean };
}

/** The after-jobs of a flow's password strategy. Unconfigured: `[session]`, so sign-up signs in. */
export function afterJobPlan(cfg: SelfserviceConfig, flow: 'registration' | 'login'): AfterJobPlan {
  const jobs = cfg[flow].after.password ?? defaultJobs;
  const redirect = jobs.find((j) => j.job === 'redirect');
  return {
    session: jobs.some((j) => j.job === 'session'),
    revokeActiveSessions: jobs.some((j) => j.job === 'revoke_active_sessions'),
    ...(redirect ? { redirect: { redirectTo: redirect.config.redirect_to, allowUserDefined: redirect.config.allow_user_defined } } : {}),
  };
}

/** The verification flow's after-jobs (only a redirect, if configured). */
export function verificationAfterJobPlan(cfg: SelfserviceConfig): AfterJobPlan {
  const redirect = cfg.verification.after.find((j) => j.job === 'redirect');
  return {
    session: false,
    revokeActiveSessions: false,
    ...(redirect ? { redirect: { redirectTo: redirect.config.redirect_to, allowUserDefined: redirect.config.allow_user_defined } } : {}),
  };
}
