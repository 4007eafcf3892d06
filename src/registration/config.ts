import { z } from 'zod';
import { servicesConfigSchema } from '../services/config.ts';

/** The `registration` section of the config: extra fields, services, lost answers, retries. */

const fieldName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'field names are lower_snake_case, at most 64 characters');

const regexSource = z.string().refine(
  (src) => {
    try {
      new RegExp(src, 'u');
      return true;
    } catch {
      return false;
    }
  },
  { error: 'is not a valid regular expression' },
);

/** Where a validated extra field goes, besides the gateway's own services. */
const fieldTarget = z.enum(['gateway', 'transient_payload', 'trait', 'metadata_public', 'metadata_admin']);

const fieldCommon = {
  required: z.boolean().default(false),
  description: z.string().max(500).optional(),
  target: fieldTarget.default('gateway'),
  /** Key inside the target (trait name, transient_payload key); the field name by default. */
  key: z.string().regex(/^[A-Za-z0-9_]{1,64}$/).optional(),
};

const isoDate = z.iso.date({ error: 'must be a date (YYYY-MM-DD)' });

export const fieldConfigSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('string'),
      ...fieldCommon,
      min_length: z.number().int().min(0).optional(),
      max_length: z.number().int().min(1).max(10_000).default(1000),
      pattern: regexSource.optional(),
    })
    .strict(),
  z.object({ type: z.literal('email'), ...fieldCommon }).strict(),
  z
    .object({
      type: z.literal('number'),
      ...fieldCommon,
      integer: z.boolean().default(false),
      min: z.number().optional(),
      max: z.number().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('boolean'),
      ...fieldCommon,
      /** `const: true` makes a consent box: only `true` is accepted. */
      const: z.literal(true).optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('enum'),
      ...fieldCommon,
      values: z.array(z.string().min(1)).min(1),
    })
    .strict(),
  z
    .object({ type: z.literal('date'), ...fieldCommon, min: isoDate.optional(), max: isoDate.optional() })
    .strict(),
]);

export type FieldConfig = z.infer<typeof fieldConfigSchema>;

export const registrationConfigSchema = z
  .object({
    fields: z.record(fieldName, fieldConfigSchema).default({}),
    /** External services called before and after the identity is created, in order. */
    services: servicesConfigSchema,
    /**
     * When Kratos's answer to the submit is lost (timeout, dropped connection, 5xx) and the
     * identity turns out to have been created by this request: `complete` finishes the sign-up
     * (after services, metadata, a fresh session), `rollback` deletes the identity and answers 503.
     */
    on_lost_answer: z.enum(['complete', 'rollback']).default('complete'),
    /**
     * Enumeration-safe sign-up (off by default): a sign-up for an address that already has an
     * account answers like a new sign-up (200, the same body shape, no identity in either), and
     * the `existing_account` services are told so the owner can be warned out of band. Needs
     * Kratos verification on and no `session` registration after-job (refused at start).
     */
    enumeration_safe: z.boolean().default(false),
    /** In enumeration-safe mode, a successful sign-up answers no sooner than this (ms), either way. 0: no floor. */
    enumeration_safe_min_ms: z.number().int().min(0).max(30_000).default(1000),
    /** The background queue of `retry_later` services (in memory: not durable). */
    retry_later: z
      .object({
        max_attempts: z.number().int().min(1).max(20).default(5),
        base_delay_ms: z.number().int().min(1).default(1000),
        max_delay_ms: z.number().int().min(1).default(60_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});
