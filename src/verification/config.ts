import { z } from 'zod';

/**
 * The `verification` section of the gateway config. The after-job (`redirect`) lives under
 * `selfservice.verification.after`, in Kratos's shape, like the other flows' after-jobs.
 */
export const verificationConfigSchema = z
  .object({
    /**
     * `POST /v1/verification` answers no sooner than this (ms), for known and unknown
     * addresses alike: Kratos itself takes longer for a known address (it stores and queues a
     * code). Set it above your p99 of that call; 0 turns the floor off.
     */
    min_answer_ms: z.number().int().min(0).max(10_000).default(250),
  })
  .strict()
  .prefault({});

export type VerificationConfig = z.infer<typeof verificationConfigSchema>;
