import { z } from 'zod';

/** Config of Idempotency-Key handling on sign-up; nest it as e.g. `registration.idempotency`. */
export const idempotencyConfigSchema = z
  .object({
    /** How long a key is remembered, from its first use (default 24 hours). */
    ttl_ms: z.number().int().min(1000, 'must be at least 1000 (one second)').max(30 * 24 * 3600 * 1000).default(24 * 3600 * 1000),
    /**
     * Encrypts stored responses (they can hold session tokens) and keys the stored
     * fingerprints. Required in practice for any store outside the process's memory.
     */
    secret: z.string().min(32, 'must be at least 32 characters').optional(),
    /** Most keys the in-memory store keeps. */
    max_entries: z.number().int().min(1).max(10_000_000).default(10_000),
  })
  .strict();

/** The validated idempotency config. */
export type IdempotencyConfig = z.output<typeof idempotencyConfigSchema>;
