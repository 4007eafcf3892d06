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

// Routes that make Kratos send an email: few per address over longer windows (a mail each).
const sendRoute = () => routeLimits({ limit: 20, window_s: 600 }, { limit: 5, window_s: 600 });
// Routes that check an emailed code, keyed by the flow handle: Kratos itself refuses the 6th
// code on a flow; this bounds the tries per handle and the flows one client IP can burn.
const codeCheckRoute = () => routeLimits({ limit: 30, window_s: 600 }, { limit: 10, window_s: 600 });

/**
 * Every rate-limited route by name, with its defaults; a route opts in with
 * `enforceRateLimit(c, '<name>', identifier)` once its body is valid. The identifier of a
 * *send* route is the address (normalised); of a *code check* route the flow handle.
 */
export const rateLimitsConfigSchema = z
  .object({
    login: routeLimits({ limit: 30, window_s: 60 }, { limit: 10, window_s: 60 }),
    registration: routeLimits({ limit: 10, window_s: 60 }, { limit: 5, window_s: 600 }),
    /** POST /v1/verification: per IP and per email address. */
    verification: sendRoute(),
    /** POST /v1/verification/code: per IP and per flow handle. */
    verification_code: codeCheckRoute(),
    /** POST /v1/recovery: per IP and per email address. */
    recovery: sendRoute(),
    /** POST /v1/recovery/code: per IP and per flow handle. */
    recovery_code: codeCheckRoute(),
    /** POST /v1/login/code: per IP and per identifier. */
    login_code: sendRoute(),
    /** POST /v1/login/code/verify: per IP and per handle. */
    login_code_verify: codeCheckRoute(),
    /** POST /v1/registration/code: per IP and per identifier (the trait at `kratos.identifier_pointer`). */
    registration_code: sendRoute(),
    /** POST /v1/registration/code/verify: per IP and per handle. */
    registration_code_verify: codeCheckRoute(),
    /**
     * POST /v1/login/second-factor (TOTP, lookup codes): per IP and per account (the sign-in
     * identifier sealed in the handle; for a step-up, the session). 20 tries a day per account:
     * with about 3 of the 10^6 TOTP codes valid at any time, ~2 % a year for an attacker who
     * already has the password, retrying without pause.
     */
    second_factor: routeLimits({ limit: 30, window_s: 300 }, { limit: 20, window_s: 86_400 }),
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
