/** Small WebCrypto and encoding helpers shared by the session cookie and the idempotency store. */

const encoder = new TextEncoder();

/** Lower-case hex of bytes. */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A random 256-bit secret, as hex. */
export function randomSecret(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}

/** base64url without padding. */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Strict base64url: no padding, no foreign characters, and only the canonical encoding of its bytes. */
export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  let binary: string;
  try {
    binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  // Unused trailing bits would give one value several spellings; refuse all but one.
  return toBase64Url(bytes) === text ? bytes : undefined;
}

/** The HKDF-SHA256 parameters for one derived key. */
export function hkdfParams(salt: string, info: string): HkdfParams {
  return { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode(salt), info: encoder.encode(info) };
}

/** A secret as HKDF input keying material. */
export function importHkdfSecret(secret: string, usages: KeyUsage[]): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, usages);
}
