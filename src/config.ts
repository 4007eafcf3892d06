import { z } from 'zod';
import { abuseConfigSchema } from './abuse/config.ts';
import { parseCidr } from './abuse/client-ip.ts';
import { afterJobPlan, selfserviceConfigSchema } from './after-jobs/plan.ts';
import { docsConfigSchema, openapiConfigSchema } from './docs/config.ts';
import { idempotencyConfigSchema } from './idempotency/index.ts';
import { metricsConfigSchema, tracingConfigSchema } from './observability/config.ts';
import { returnToConfigSchema } from './after-jobs/return-to.ts';
import { registrationConfigSchema } from './registration/config.ts';
import { placeholdersOf } from './services/template.ts';
import { sessionConfigSchema } from './session/config.ts';
import { stateConfigSchema } from './state/config.ts';
import { verificationConfigSchema } from './verification/config.ts';
import { recoveryConfigSchema } from './recovery/config.ts';

/**
 * The gateway's configuration: one zod schema, fed from YAML + env on Node and from
 * bindings on Workers. `parseConfig` resolves `${ENV}` references first, then validates;
 * every error names the key path it is about.
 */

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .transform((u) => u.replace(/\/+$/, ''));

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(8080),
        /** Path prefix the gateway is served under (`/auth`): mount point, cookie path, OpenAPI server. */
        base_path: z
          .string()
          .regex(/^(\/(?!\.{1,2}(\/|$))[A-Za-z0-9._~-]+)*\/?$/, 'must be a path like /auth (letters, digits, . _ ~ -)')
          .transform((p) => p.replace(/\/$/, ''))
          .default(''),
        /** How long SIGTERM waits for in-flight requests before the process exits. */
        shutdown_timeout_ms: z.number().int().min(0).default(10_000),
        /**
         * After that deadline, in-flight requests are aborted (sign-ups roll back and answer 503);
         * this is how long they get to do so before their sockets are closed.
         */
        shutdown_abort_grace_ms: z.number().int().min(0).max(120_000).default(10_000),
        /** Largest accepted request body. */
        body_limit_bytes: z.number().int().min(1024).max(1_048_576).default(65_536),
        /**
         * Proxies in front of the gateway whose forwarded headers are believed: a list of
         * addresses/CIDRs (`10.0.0.0/8`, `::1`), or the number of hops (1: one load balancer).
         * Unset: forwarded headers are ignored; the client IP is the connection's peer (Node) or
         * CF-Connecting-IP (Workers).
         */
        trusted_proxies: z
          .union([
            z.array(z.string().refine((v) => parseCidr(v) !== undefined, { error: 'must be an IP address or CIDR (10.0.0.0/8, fd00::/8)' })).min(1),
            z.number().int().min(1).max(32),
          ])
          .optional(),
        /**
         * The header trusted proxies write the client IP into: `x-forwarded-for` (the default;
         * read right to left through trusted hops), `forwarded` (RFC 7239 `for=`), or a
         * single-value one (`x-real-ip`, `cf-connecting-ip`, `true-client-ip`). Needs `trusted_proxies`.
         */
        client_ip_header: z.string().toLowerCase().regex(/^[a-z0-9-]{1,64}$/, 'must be a header name').default('x-forwarded-for'),
        // Slow and stuck clients (enforced on Node; on Workers, Cloudflare's edge handles them).
        /** The request line and headers must arrive within this, from the first byte. */
        headers_timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
        /**
         * The whole request, headers and body, must arrive within this, from the first byte.
         * Only receipt counts: the time the gateway takes to answer does not.
         */
        request_timeout_ms: z.number().int().min(100).max(300_000).default(20_000),
        /** An idle keep-alive connection is closed after this. */
        keep_alive_timeout_ms: z.number().int().min(100).max(600_000).default(5_000),
        /** Largest request line + headers; more is a 431. */
        max_header_bytes: z.number().int().min(1024).max(65_536).default(16_384),
        /**
         * While the event loop is saturated, how many requests may run at once shrinks toward
         * this (by 10% per 100 ms); later ones wait in arrival order, unread, and start as
         * running ones finish. 0: no admission control.
         */
        concurrency_when_busy: z.number().int().min(0).max(100_000).default(32),
      })
      .strict()
      .prefault({}),
    kratos: z
      .object({
        public_url: httpUrl,
        admin_url: httpUrl,
        /** Per-request timeout for calls to Kratos. */
        timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
        /** JSON pointer of the identifier trait, where IDENTIFIER_TAKEN is reported. */
        identifier_pointer: z.string().startsWith('/traits/').default('/traits/email'),
      })
      .strict(),
    registration: registrationConfigSchema,
    cors: z
      .object({
        /** Exact origins allowed to call the gateway from a browser. Empty: no CORS. */
        allowed_origins: z.array(z.url().transform((u) => new URL(u).origin)).default([]),
      })
      .strict()
      .prefault({}),
    log: z
      .object({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') })
      .strict()
      .prefault({}),
    secrets: z
      .object({
        /** Session cookie keys: the first seals, every entry opens (rotation). ≥ 32 characters each. */
        session: z.array(z.string().min(32, 'must be at least 32 characters')).default([]),
      })
      .strict()
      .prefault({}),
    session: sessionConfigSchema,
    /** After-jobs per flow and strategy, in Kratos's own shape. */
    selfservice: selfserviceConfigSchema.prefault({}),
    /** Allow-list for `return_to` (the redirect job with allow_user_defined). */
    return_to: returnToConfigSchema.prefault({}),
    /** Idempotency-Key handling on sign-up. */
    idempotency: idempotencyConfigSchema.prefault({}),
    /** Where shared state lives: per process (`memory`, the default) or in Redis. */
    state: stateConfigSchema.prefault({}),
    /** Rate limits, brute-force protection and equal timing of failed logins (src/abuse/). */
    abuse: abuseConfigSchema.prefault({}),
    /** Prometheus metrics on a separate loopback listener (Node only); off by default. */
    metrics: metricsConfigSchema,
    /** OpenTelemetry traces over OTLP/HTTP (Node only); off by default. */
    tracing: tracingConfigSchema,
    /** What /openapi.json says about where the API is (`servers`). */
    openapi: openapiConfigSchema.prefault({}),
    /** The API docs page at /docs. */
    docs: docsConfigSchema.prefault({}),
    /** Email verification by code (POST /v1/verification, /v1/verification/code). */
    verification: verificationConfigSchema,
    /** Recovery by code (POST /v1/recovery, /v1/recovery/code). */
    recovery: recoveryConfigSchema,
    /** Second factor (issue 14): the issuer written into TOTP `otpauth://` URLs; match Kratos's `selfservice.methods.totp.config.issuer`. */
    second_factor: z
      .object({ totp_issuer: z.string().min(1).max(100).optional() })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.state.backend === 'redis') {
      if (!cfg.state.redis) ctx.addIssue({ code: 'custom', path: ['state', 'redis', 'url'], message: 'is required when state.backend is redis' });
      // Every process must derive the same HMAC'd keys and open each other's sealed answers.
      if (cfg.idempotency.secret === undefined) {
        ctx.addIssue({ code: 'custom', path: ['idempotency', 'secret'], message: 'is required when state.backend is redis (every instance must use the same one)' });
      }
    }
    if (cfg.server.headers_timeout_ms > cfg.server.request_timeout_ms) {
      // The headers are part of the request; Node refuses this combination too.
      ctx.addIssue({ code: 'custom', path: ['server', 'headers_timeout_ms'], message: 'must not be greater than server.request_timeout_ms' });
    }
    if ((cfg.session.delivery === 'cookie' || cfg.session.client_choice) && cfg.secrets.session.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['secrets', 'session'], message: 'is required when sessions can be delivered as cookies' });
    }
    // A service template may only use fields that exist.
    for (const [i, service] of cfg.registration.services.entries()) {
      if (!service.http) continue;
      for (const use of placeholdersOf({ url: service.http.url, body: service.http.body })) {
        const [root, name] = use.path.split('.');
        if (root === 'fields' && name !== undefined && !(name in cfg.registration.fields)) {
          ctx.addIssue({ code: 'custom', path: ['registration', 'services', i, 'http', ...use.at], message: `uses fields.${name}, which registration.fields does not declare` });
        }
      }
    }
    // --- enumeration-safe sign-up (issue 13) ---
    // A session (or its token) in the answer proves the account was just created, so a sign-up
    // for an existing address could not answer like a new one.
    if (cfg.registration.enumeration_safe && afterJobPlan(cfg.selfservice, 'registration').session) {
      ctx.addIssue({
        code: 'custom',
        path: ['registration', 'enumeration_safe'],
        message:
          'cannot be combined with the session after-job of selfservice.registration (unset, it defaults to [session]): a session in the answer ' +
          'proves the account is new. Set selfservice.registration.after.password to [] (or a redirect job only)',
      });
    }
    // --- end enumeration-safe sign-up ---
    const traitKeys = new Map<string, string>();
    for (const [name, field] of Object.entries(cfg.registration.fields)) {
      if (field.type === 'number' && field.min !== undefined && field.max !== undefined && field.min > field.max) {
        ctx.addIssue({ code: 'custom', path: ['registration', 'fields', name, 'min'], message: 'is greater than max' });
      }
      if (field.type === 'string' && field.min_length !== undefined && field.min_length > field.max_length) {
        ctx.addIssue({ code: 'custom', path: ['registration', 'fields', name, 'min_length'], message: 'is greater than max_length' });
      }
      if (field.target === 'trait') {
        const key = field.key ?? name;
        const other = traitKeys.get(key);
        if (other) {
          ctx.addIssue({ code: 'custom', path: ['registration', 'fields', name, 'key'], message: `trait "${key}" is already set by field "${other}"` });
        }
        traitKeys.set(key, name);
      }
    }
  })
  // The session cookie belongs to the gateway's paths unless it is set explicitly.
  .transform((cfg) => ({ ...cfg, session: { ...cfg.session, cookie: { ...cfg.session.cookie, path: cfg.session.cookie.path ?? (cfg.server.base_path || '/') } } }));

export type GatewayConfig = z.infer<typeof configSchema>;
export type { FieldConfig } from './registration/config.ts';
export type ConfigInput = z.input<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** `a.b[0].c` from a zod/our own path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

const envRef = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of `input` with values from
 * `env`. A reference to an unset variable without a default is an error naming the key.
 */
export function resolveEnvRefs(
  input: unknown,
  env: Record<string, string | undefined>,
  problems: string[] = [],
  path: PropertyKey[] = [],
): unknown {
  if (typeof input === 'string') {
    const resolved = input.replace(envRef, (_m, name: string, fallback: string | undefined) => {
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (fallback !== undefined) return fallback;
      problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
      return '';
    });
    // `port: ${PORT}` should read as a number, as the literal would in YAML.
    const whole = input.match(envRef)?.[0] === input;
    if (whole && /^-?\d+(\.\d+)?$/.test(resolved)) return Number(resolved);
    if (whole && (resolved === 'true' || resolved === 'false')) return resolved === 'true';
    return resolved;
  }
  if (Array.isArray(input)) return input.map((v, i) => resolveEnvRefs(v, env, problems, [...path, i]));
  if (input !== null && typeof input === 'object') {
    return Object.fromEntries(
      Object.entries(input).map(([k, v]) => [k, resolveEnvRefs(v, env, problems, [...path, k])]),
    );
  }
  return input;
}

/** Validates a raw config object (from YAML or bindings). Throws ConfigError. */
export function parseConfig(input: unknown, env: Record<string, string | undefined> = {}): GatewayConfig {
  const problems: string[] = [];
  const resolved = resolveEnvRefs(input ?? {}, env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const result = configSchema.safeParse(resolved);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`));
  }
  return result.data;
}
