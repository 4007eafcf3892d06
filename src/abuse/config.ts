import { z } from 'zod';

/**
 * `abuse`: rate limits per route, brute-force protection on login, equal timing of failed
 * logins. The client IP they key on comes from `server.trusted_proxies` (see client-ip.ts).
 */

const windowLimit = z
  .object({
    /** Requests allowed per window. */
    limit: z.number().int().min(1).max(1_000_000),
    /** Window length in seconds (a fixed window starting at the key's first request). */
    window_s: z.number().int().min(1).max(86_400),
  })
  .strict();

/** A route's limits: per client IP and per identifier; `false` turns one off. */
function routeLimits(ip: z.input<typeof windowLimit> | false, identifier: z.input<typeof windowLimit> | false) {
  return z
    .object({
      ip: z.union([windowLimit, z.literal(false)]).default(ip),
      identifier: z.union([windowLimit, z.literal(false)]).default(identifier),
    })
    .strict()
    .prefault({});
}

// Codes and emails: few tries per identifier over longer windows (each request may send an email or check a code).
const codeRoute = () => routeLimits({ limit: 20, window_s: 600 }, { limit: 5, window_s: 600 });

/**
 * Every rate-limited route by name, with its defaults. Routes not built yet (verification,
 * recovery, code login, second factor) are declared here so their defaults apply the moment
 * a route opts in with `enforceRateLimit(c, '<name>', identifier)`.
 */
export const rateLimitsConfigSchema = z
  .object({
    login: routeLimits({ limit: 30, window_s: 60 }, { limit: 10, window_s: 60 }),
    registration: routeLimits({ limit: 10, window_s: 60 }, { limit: 5, window_s: 600 }),
    verification: codeRoute(),
    recovery: codeRoute(),
    login_code: codeRoute(),
    registration_code: codeRoute(),
    second_factor: routeLimits({ limit: 30, window_s: 300 }, { limit: 10, window_s: 300 }),
  })
  .strict();

export type RateLimitedRoute = keyof z.output<typeof rateLimitsConfigSchema>;
export type WindowLimit = z.output<typeof windowLimit>;

const failureThreshold = z
  .object({
    /** Failed logins (in a row: a success resets) before the identifier is blocked. */
    failures: z.number().int().min(1).max(1_000_000),
    /** How long failures are remembered, from the first; the block ends with this window. */
    window_s: z.number().int().min(1).max(86_400),
  })
  .strict();

export const abuseConfigSchema = z
  .object({
    /** Master switch for everything below. */
    enabled: z.boolean().default(true),
    /**
     * When the shared store (Redis, Durable Object) cannot be asked: `closed` refuses the request
     * (503 LIMITER_UNAVAILABLE), `open` lets it through unlimited and logs a warning.
     */
    store_unavailable: z.enum(['closed', 'open']).default('closed'),
    rate_limits: rateLimitsConfigSchema.prefault({}),
    brute_force: z
      .object({
        enabled: z.boolean().default(true),
        /** Per identifier and client IP: one attacker stops here, the owner elsewhere can still sign in. */
        identifier_ip: failureThreshold.default({ failures: 5, window_s: 900 }),
        /** Per identifier from anywhere: a botnet spraying one account stops here (higher on purpose). */
        identifier: failureThreshold.default({ failures: 50, window_s: 900 }),
      })
      .strict()
      .prefault({}),
    equal_timing: z
      .object({
        /**
         * Failed logins (wrong password and unknown identifier alike) are answered no faster than
         * the slowest recent failed login, so timing cannot tell them apart.
         */
        enabled: z.boolean().default(true),
        /** Failed logins take at least this long. */
        floor_ms: z.number().int().min(0).max(30_000).default(0),
        /** Upper bound of the learned target (an outlier cannot make every failure slow). */
        max_ms: z.number().int().min(0).max(30_000).default(2_000),
        /** How many recent failed logins the target is learned from (their maximum). */
        samples: z.number().int().min(1).max(10_000).default(64),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type AbuseConfig = z.output<typeof abuseConfigSchema>;
