/**
 * The web session cookie: the Kratos session token sealed with AES-256-GCM, so the browser
 * holds neither a readable nor a forgeable token. Keys come from `secrets.session`; the first
 * secret seals, every listed secret opens, which is how secrets are rotated.
 *
 * Format: `v1.<keyId>.<base64url(iv)>.<base64url(ciphertext+tag)>`, only cookie-safe characters.
 */

import { fromBase64Url, hkdfParams, importHkdfSecret, toBase64Url } from '../shared/crypto.ts';

const VERSION = 'v1';
const MIN_SECRET_LENGTH = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_LENGTH = 8;
// Far above a real cookie; bounds the work a forged value can cause.
const MAX_VALUE_LENGTH = 4096;

// A fixed salt is fine for HKDF (RFC 5869 §3.1); the secrets carry the entropy. The info
// strings separate the encryption key from the public key id, so publishing one reveals
// nothing about the other.
const HKDF_SALT = 'kratos-bff/session-cookie';
const ENC_INFO = 'kratos-bff session cookie v1';
const KEY_ID_INFO = 'kratos-bff session cookie v1 key id';

const encoder = new TextEncoder();

interface CookieKey {
  /** Short, public identifier of the key, so `open` tries the right one first. */
  readonly id: string;
  readonly key: CryptoKey;
}

/** Keys derived from `secrets.session` (first seals, every entry opens — rotation). */
export interface CookieKeys {
  readonly keys: readonly CookieKey[];
}

/** Derives one AES-GCM key (and its public id) per secret; throws on a secret under 32 characters. */
export async function deriveCookieKeys(secrets: readonly string[]): Promise<CookieKeys> {
  if (secrets.length === 0) throw new Error('secrets.session needs at least one secret');
  secrets.forEach((secret, i) => {
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new Error(`secrets.session[${i}] is shorter than ${MIN_SECRET_LENGTH} characters`);
    }
  });
  const keys = await Promise.all(
    secrets.map(async (secret): Promise<CookieKey> => {
      const ikm = await importHkdfSecret(secret, ['deriveKey', 'deriveBits']);
      const hkdf = (info: string) => hkdfParams(HKDF_SALT, info);
      const key = await crypto.subtle.deriveKey(hkdf(ENC_INFO), ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      const idMaterial = await crypto.subtle.deriveBits(hkdf(KEY_ID_INFO), ikm, 256);
      const id = toBase64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', idMaterial))).slice(0, KEY_ID_LENGTH);
      return { id, key };
    }),
  );
  return { keys };
}

// The version and key id are authenticated with the ciphertext, so neither can be edited
// without the GCM tag failing.
function additionalData(keyId: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${ENC_INFO}.${VERSION}.${keyId}`);
}

/** Seals a session token and its expiry into a cookie value with the first (current) key. */
export async function sealSessionCookie(keys: CookieKeys, payload: { token: string; expiresAt: number }): Promise<string> {
  const current = keys.keys[0];
  if (!current) throw new Error('no session cookie key');
  if (typeof payload.token !== 'string' || payload.token === '') throw new TypeError('session token must be a non-empty string');
  if (!Number.isFinite(payload.expiresAt)) throw new TypeError('expiresAt must be a finite number');
  // A fresh random IV per seal: GCM loses confidentiality and integrity if an IV repeats under a key.
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const plaintext = encoder.encode(JSON.stringify({ t: payload.token, e: payload.expiresAt }));
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: additionalData(current.id), tagLength: TAG_BYTES * 8 },
    current.key,
    plaintext,
  );
  return [VERSION, current.id, toBase64Url(iv), toBase64Url(new Uint8Array(ciphertext))].join('.');
}

export type OpenResult = { ok: true; token: string; expiresAt: number } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

/** Opens a cookie value sealed by any of the keys; refuses tampered, foreign and expired values. */
export async function openSessionCookie(keys: CookieKeys, value: string, now: number): Promise<OpenResult> {
  if (typeof value !== 'string' || value.length > MAX_VALUE_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = value.split('.');
  if (parts.length !== 4) return { ok: false, reason: 'malformed' };
  const [version, keyId, ivText, ctText] = parts as [string, string, string, string];
  if (version !== VERSION || !/^[A-Za-z0-9_-]{8}$/.test(keyId)) return { ok: false, reason: 'malformed' };
  const iv = fromBase64Url(ivText);
  const ciphertext = fromBase64Url(ctText);
  if (!iv || iv.length !== IV_BYTES || !ciphertext || ciphertext.length <= TAG_BYTES) return { ok: false, reason: 'malformed' };

  // The matching key first; the rest only matter if two secrets share an id prefix.
  const ordered = [...keys.keys.filter((k) => k.id === keyId), ...keys.keys.filter((k) => k.id !== keyId)];
  let plaintext: ArrayBuffer | undefined;
  for (const { key } of ordered) {
    try {
      plaintext = await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: additionalData(keyId), tagLength: TAG_BYTES * 8 }, key, ciphertext);
      break;
    } catch {
      // Wrong key or tampered value: GCM authentication failed; try the next key.
    }
  }
  if (!plaintext) return { ok: false, reason: 'bad_signature' };

  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(plaintext));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const { t, e } = (body ?? {}) as { t?: unknown; e?: unknown };
  if (typeof t !== 'string' || t === '' || typeof e !== 'number' || !Number.isFinite(e)) return { ok: false, reason: 'malformed' };
  // Checked only after authentication, so a forged value never learns anything from the clock.
  if (e <= now) return { ok: false, reason: 'expired' };
  return { ok: true, token: t, expiresAt: e };
}
