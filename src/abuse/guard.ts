import type { AbuseConfig } from './config.ts';
import { compileTrustedProxies, type TrustedProxies } from './client-ip.ts';
import type { RateLimitStore } from './store.ts';
import { toHex } from '../shared/crypto.ts';

/** Everything the abuse checks need, built once per gateway (`c.get('gateway').abuse`). */
export interface AbuseGuard {
  config: AbuseConfig;
  store: RateLimitStore;
  trust: TrustedProxies;
  timing: FailureTimer;
  /** A short keyed hash of a normalised identifier: stores never see an email address. */
  identifierKey(identifier: string): Promise<string>;
}

/**
 * The learned duration of a failed login: the maximum of the last `samples` failed logins,
 * at least `floor_ms`, at most `max_ms`. Padding every failure to it makes a wrong password
 * and an unknown identifier take the same time, whatever the upstream's hasher does.
 */
export interface FailureTimer {
  /** The target duration now. */
  target(): number;
  /** Records one failed login's own duration (before padding). */
  record(ms: number): void;
}

export function createFailureTimer(options: { floorMs: number; maxMs: number; samples: number }): FailureTimer {
  const ring: number[] = [];
  let next = 0;
  let learned = 0;
  return {
    target: () => Math.min(options.maxMs, Math.max(options.floorMs, learned)),
    record(ms) {
      if (ring.length < options.samples) ring.push(ms);
      else ring[next] = ms;
      next = (next + 1) % options.samples;
      learned = Math.max(...ring);
    },
  };
}

/** Trimmed, NFKC, lower-cased: `Ada@Example.com ` and `ada@example.com` share one counter. */
export function normaliseIdentifier(identifier: string): string {
  return identifier.normalize('NFKC').trim().toLowerCase();
}

export interface AbuseGuardOptions {
  config: AbuseConfig;
  store: RateLimitStore;
  trustedProxies: readonly string[] | number | undefined;
  /**
   * Keys the identifier hashes (`idempotency.secret`); the same on every instance that shares a
   * store. Empty: a fixed key (the counters still never hold the address in clear).
   */
  secret: string;
}

export function createAbuseGuard(options: AbuseGuardOptions): AbuseGuard {
  const { config } = options;
  const encoder = new TextEncoder();
  let key: Promise<CryptoKey> | undefined;
  return {
    config,
    store: options.store,
    trust: compileTrustedProxies(options.trustedProxies),
    timing: createFailureTimer({ floorMs: config.equal_timing.floor_ms, maxMs: config.equal_timing.max_ms, samples: config.equal_timing.samples }),
    async identifierKey(identifier) {
      key ??= crypto.subtle.importKey('raw', encoder.encode(`kbff-rate-limit:${options.secret}`), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      const mac = await crypto.subtle.sign('HMAC', await key, encoder.encode(normaliseIdentifier(identifier)));
      return toHex(new Uint8Array(mac).slice(0, 16));
    },
  };
}
