import { toHex } from '../shared/crypto.ts';

/** Idempotency keys and request fingerprints. */

/** 1..255 printable ASCII characters, no spaces. */
export function isValidIdempotencyKey(key: string): boolean {
  return /^[\x21-\x7e]{1,255}$/.test(key);
}

/**
 * The key from an `Idempotency-Key` header, or null when it is malformed. Accepts the IETF
 * draft's structured-field string (`"abc"`, with `\"` and `\\` escapes) and the bare token
 * form that Stripe's clients send.
 */
export function idempotencyKeyFromHeader(value: string): string | null {
  let key = value.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) {
    const inner = key.slice(1, -1);
    // An unescaped quote or a lone backslash inside is not a valid sf-string.
    if (!/^(?:[^"\\]|\\["\\])*$/.test(inner)) return null;
    key = inner.replace(/\\(["\\])/g, '$1');
  }
  return isValidIdempotencyKey(key) ? key : null;
}

function canonicalJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonicalJson((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * SHA-256 (hex) of method, path with query, and body. A JSON body is canonicalised first
 * (sorted keys, no whitespace), so a client that re-serialises the same payload is not told
 * it sent a different one. The body holds the password: keep fingerprints out of logs, and
 * out of shared stores unless keyed (`encryptingStore` HMACs them).
 */
export async function fingerprintRequest(parts: { method: string; path: string; body: string }): Promise<string> {
  let body = parts.body;
  try {
    body = JSON.stringify(canonicalJson(JSON.parse(parts.body)));
  } catch {
    // Not JSON: fingerprint the bytes as sent.
  }
  // A JSON array keeps the parts apart: no path/body split can collide with another.
  const input = JSON.stringify([parts.method.toUpperCase(), parts.path, body]);
  return toHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(input)));
}
