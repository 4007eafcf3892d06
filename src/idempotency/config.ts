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
    /**
     * With a shared store (Redis): how long a claim stays owned without a sign of life. The
     * owning process renews it every third of this while its request runs, so only a claim
     * whose process died (or lost Redis for this long) is taken over by a retry. 30 s: long
     * enough to ride out a GC pause or a Redis failover, short enough that a client's retry
     * after a crash is not refused for long.
     */
    lease_ms: z.number().int().min(1000, 'must be at least 1000 (one second)').max(600_000).default(30_000),
    /** Most keys the in-memory store keeps. */
    max_entries: z.number().int().min(1).max(10_000_000).default(10_000),
  })
  .strict();

/** The validated idempotency config. */
export type IdempotencyConfig = z.output<typeof idempotencyConfigSchema>;
