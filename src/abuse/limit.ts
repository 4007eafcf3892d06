import type { AppContext } from '../app-env.ts';
import { AppError } from '../errors.ts';
import { clientIpOf } from '../middleware/request-context.ts';
import { routePattern } from '../observability/middleware.ts';
import { rateKeyOfIp } from './client-ip.ts';
import type { RateLimitedRoute, WindowLimit } from './config.ts';
import { LimiterUnavailableError, type Counter } from './store.ts';
import { setHeader } from '../shared/response.ts';

/**
 * Rate limits, declared per route in `abuse.rate_limits.<route>` and applied by one call in
 * the route's handler, once the body is validated (the identifier is in the body):
 *
 *     await enforceRateLimit(c, 'recovery', body.email);
 *
 * Every request counts against the route's per-IP and per-identifier windows. The answer
 * carries the IETF `RateLimit-Policy` and `RateLimit` headers
 * (draft-ietf-httpapi-ratelimit-headers); over a limit it is a 429 RATE_LIMITED with
 * `Retry-After`. A shared store that cannot be asked fails closed (503 LIMITER_UNAVAILABLE).
 */
export function enforceRateLimit(c: AppContext, route: RateLimitedRoute, identifier?: string): Promise<void> | undefined {
  const { abuse } = c.get('gateway');
  // Off: nothing to await (no promise, no async frame per request).
  if (!abuse.config.enabled) return undefined;
  return enforce(c, route, identifier);
}

/** `run` once the limits passed (`limited` is what `enforceRateLimit` returned): no extra promise when they are off. */
export function afterRateLimit<T>(limited: Promise<void> | undefined, run: () => Promise<T>): Promise<T> {
  return limited ? limited.then(run) : run();
}

async function enforce(c: AppContext, route: RateLimitedRoute, identifier: string | undefined): Promise<void> {
  const { abuse } = c.get('gateway');
  const limits = abuse.config.rate_limits[route];
  const checks: Array<{ name: string; limit: WindowLimit; key: string }> = [];
  if (limits.ip) checks.push({ name: 'ip', limit: limits.ip, key: `${route}:ip:${rateKeyOfIp(clientIpOf(c))}` });
  if (limits.identifier && identifier !== undefined && identifier.trim() !== '') {
    checks.push({ name: 'identifier', limit: limits.identifier, key: `${route}:id:${await abuse.identifierKey(identifier)}` });
  }
  if (checks.length === 0) return;
  const counters = await guarded(c, () => Promise.all(checks.map((check) => abuse.store.hit(check.key, check.limit.window_s * 1000))));
  if (counters === undefined) return; // store down, `store_unavailable: open`
  setHeader(c, 'RateLimit-Policy', checks.map((check) => `"${check.name}";q=${check.limit.limit};w=${check.limit.window_s}`).join(', '));
  setHeader(c, 'RateLimit', checks.map((check, i) => `"${check.name}";r=${Math.max(0, check.limit.limit - counters[i]!.count)};t=${seconds(counters[i]!)}`).join(', '));
  let retryAfter = 0;
  for (const [i, check] of checks.entries()) {
    if (counters[i]!.count > check.limit.limit) retryAfter = Math.max(retryAfter, seconds(counters[i]!));
  }
  if (retryAfter > 0) {
    const policies = checks.filter((_, i) => counters[i]!.count > checks[i]!.limit.limit).map((ch) => ch.name);
    c.get('log').warn('rate limited', { route, policies });
    for (const kind of policies) c.get('gateway').telemetry.metrics.rateLimited(routePattern(c), kind);
    throw new AppError('RATE_LIMITED', { headers: { 'Retry-After': String(retryAfter) } });
  }
}

/** What a login does once its outcome is known (brute-force counters and equal timing). */
export interface LoginAttempt {
  /** A wrong identifier or password: count it, then wait until the failed-login target duration. */
  failed(): Promise<void>;
  /** Signed in: the identifier's failure counters start again. */
  succeeded(): Promise<void>;
}

/**
 * Brute-force protection for a login: refuses (429 RATE_LIMITED) while the identifier has
 * too many failed logins in a row, from this client IP (`identifier_ip`) or from anywhere
 * (`identifier`, a higher threshold). Also starts the failed-login clock for equal timing.
 */
export async function beginLoginAttempt(c: AppContext, identifier: string): Promise<LoginAttempt> {
  const { abuse, now } = c.get('gateway');
  const started = now();
  if (!abuse.config.enabled) return { failed: async () => {}, succeeded: async () => {} };
  const { brute_force: bf, equal_timing: timing } = abuse.config;
  const id = await abuse.identifierKey(identifier);
  const pairKey = `bf:pair:${id}:${rateKeyOfIp(clientIpOf(c))}`;
  const idKey = `bf:id:${id}`;
  if (bf.enabled) {
    const [pair, overall] = (await guarded(c, () => Promise.all([abuse.store.peek(pairKey), abuse.store.peek(idKey)]))) ?? [];
    let retryAfter = 0;
    if (pair && pair.count >= bf.identifier_ip.failures) retryAfter = seconds(pair);
    if (overall && overall.count >= bf.identifier.failures) retryAfter = Math.max(retryAfter, seconds(overall));
    if (retryAfter > 0) {
      const scope = overall && overall.count >= bf.identifier.failures ? 'identifier' : 'identifier_ip';
      c.get('log').warn('login blocked after repeated failures', { scope });
      c.get('gateway').telemetry.metrics.rateLimited(routePattern(c), `brute_force_${scope}`);
      throw new AppError('RATE_LIMITED', { detail: 'Too many failed sign-in attempts; try again later.', headers: { 'Retry-After': String(retryAfter) } });
    }
  }
  return {
    async failed() {
      if (timing.enabled) abuse.timing.record(now() - started);
      if (bf.enabled) {
        await guarded(c, () => Promise.all([abuse.store.hit(pairKey, bf.identifier_ip.window_s * 1000), abuse.store.hit(idKey, bf.identifier.window_s * 1000)]));
      }
      if (timing.enabled) {
        const wait = abuse.timing.target() - (now() - started);
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    },
    async succeeded() {
      if (bf.enabled) await guarded(c, () => Promise.all([abuse.store.reset(pairKey), abuse.store.reset(idKey)]));
    },
  };
}

function seconds(counter: Counter): number {
  return Math.max(1, Math.ceil(counter.resetMs / 1000));
}

/** Runs a store call; a store that cannot be asked fails closed (503) or, if configured, open (undefined). */
async function guarded<T>(c: AppContext, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof LimiterUnavailableError)) throw err;
    if (c.get('gateway').abuse.config.store_unavailable === 'closed') throw new AppError('LIMITER_UNAVAILABLE');
    c.get('log').warn('rate-limit store unavailable; request let through (abuse.store_unavailable: open)');
    return undefined;
  }
}
