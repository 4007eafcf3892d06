import { fromBase64Url, hkdfParams, toBase64Url, toHex } from '../shared/crypto.ts';
import type { SessionCookies } from '../session/cookie.ts';

/**
 * The recovery flow handle the client holds between `POST /v1/recovery` and
 * `POST /v1/recovery/code`, and the privileged session kept for a retry.
 *
 * The handle: with `secrets.session`, the Kratos flow id sealed (encrypted and authenticated,
 * like the session cookie, with a `recovery:` purpose prefix so neither can stand for the
 * other) and expiring with the Kratos flow; without it, the Kratos flow id itself (a random
 * UUIDv4, as unguessable, but not opaque).
 *
 * The retry record: when the code was right but the new password was refused (too weak,
 * breached), the privileged session Kratos handed out is kept in the gateway's state store
 * (the idempotency store: memory, Redis or Durable Object), so the client can retry with the
 * same handle and code, and no new email. The record's key is SHA-256 of the handle, its
 * fingerprint SHA-256 of the code, and the token is AES-GCM encrypted under a key derived
 * (HKDF) from the handle: the store alone (a dump, a shared Redis) yields neither a usable key
 * nor the token; the handle alone does not pass the code check. It lives `RETRY_WINDOW_MS`
 * (the privileged session ends sooner if Kratos's `privileged_session_max_age` is shorter, and
 * Kratos then refuses the password: RECOVERY_EXPIRED).
 */

export const RETRY_WINDOW_MS = 10 * 60_000;
const PREFIX = 'recovery:';
const encoder = new TextEncoder();

export async function sealHandle(cookies: SessionCookies | undefined, flowId: string, expiresAt: number): Promise<string> {
  return cookies ? cookies.seal(`${PREFIX}${flowId}`, expiresAt) : flowId;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The Kratos flow id of a handle, or undefined (tampered, expired, not a recovery handle). */
export async function openHandle(cookies: SessionCookies | undefined, handle: string, now: number): Promise<string | undefined> {
  if (!cookies) return uuid.test(handle) ? handle : undefined;
  const opened = await cookies.open(handle, now);
  if (!opened?.startsWith(PREFIX)) return undefined;
  const id = opened.slice(PREFIX.length);
  return uuid.test(id) ? id : undefined;
}

async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

export const retryKey = async (handle: string) => `recovery:${await sha256Hex(`key:${handle}`)}`;
export const codeFingerprint = async (handle: string, code: string) => sha256Hex(`code:${handle}:${code}`);

async function tokenKey(handle: string): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey('raw', encoder.encode(handle), 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(hkdfParams('kratos-bff recovery', 'retry token v1'), ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

export async function encryptToken(handle: string, token: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await tokenKey(handle), encoder.encode(token)));
  return `${toBase64Url(iv)}.${toBase64Url(ct)}`;
}

export async function decryptToken(handle: string, sealed: string): Promise<string | undefined> {
  const [ivText, ctText] = sealed.split('.');
  const iv = fromBase64Url(ivText ?? '');
  const ct = fromBase64Url(ctText ?? '');
  if (!iv || !ct) return undefined;
  try {
    return new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, await tokenKey(handle), ct));
  } catch {
    return undefined;
  }
}
