import { z } from 'zod';

/** The `recovery` section of the gateway config (POST /v1/recovery, /v1/recovery/code). */
export const recoveryConfigSchema = z
  .object({
    /**
     * `POST /v1/recovery` answers no sooner than this (ms), for known and unknown addresses
     * alike: Kratos itself takes longer for a known address (it stores and queues a code).
     * Set it above your p99 of that call; 0 turns the floor off.
     */
    min_answer_ms: z.number().int().min(0).max(10_000).default(400),
    /**
     * How long (ms) a recovery whose code was accepted but whose new password was refused can
     * be retried with the same `flow` and `code`, without a new email. Kratos's
     * `selfservice.flows.settings.privileged_session_max_age` ends it sooner if shorter.
     */
    retry_window_ms: z.number().int().min(0).max(3_600_000).default(600_000),
  })
  .strict()
  .prefault({});

export type RecoveryConfig = z.infer<typeof recoveryConfigSchema>;
