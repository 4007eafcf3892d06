import type { BeginResult, IdempotencyStore, StoredResponse } from './store.ts';
import { fromBase64Url, hkdfParams, importHkdfSecret, toBase64Url, toHex } from '../shared/crypto.ts';

/**
 * Wraps a store so what it keeps is useless to someone who reads it: responses (which hold
 * session tokens) are sealed with AES-256-GCM; keys and fingerprints are replaced by their
 * HMAC-SHA256, because a plain SHA-256 of a body that contains a password could be brute-forced
 * offline, and client keys need not be readable either. Both keys come from `secret` by HKDF.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const FORMAT = 'v1.';

/** Thrown when a stored response cannot be decrypted (tampered with, or not sealed by us). */
export class IdempotencyDecryptError extends Error {
  constructor() {
    super('stored idempotent response cannot be decrypted');
    this.name = 'IdempotencyDecryptError';
  }
}

/** Wraps a store so what it keeps is encrypted with AES-GCM (WebCrypto), keyed from a secret: stored responses can hold session tokens. */
export async function encryptingStore(inner: IdempotencyStore, secret: string): Promise<IdempotencyStore> {
  if (secret.length < 32) throw new Error('idempotency secret must be at least 32 characters');
  const master = await importHkdfSecret(secret, ['deriveKey']);
  const hkdf = (info: string) => hkdfParams('kratos-bff idempotency', info);
  const aesKey = await crypto.subtle.deriveKey(hkdf('aes-gcm v1'), master, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const macKey = await crypto.subtle.deriveKey(hkdf('hmac v1'), master, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign']);

  // Domain prefixes keep a key's MAC from ever equalling a fingerprint's.
  const mac = async (domain: string, value: string) => toHex(await crypto.subtle.sign('HMAC', macKey, encoder.encode(`${domain}\0${value}`)));

  async function seal(storedKey: string, response: StoredResponse): Promise<StoredResponse> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    // The stored key is the additional data: a sealed response moved under another key fails.
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(storedKey) }, aesKey, encoder.encode(JSON.stringify(response))),
    );
    const joined = new Uint8Array(iv.length + sealed.length);
    joined.set(iv);
    joined.set(sealed, iv.length);
    // Status is kept readable (it says nothing about the user); headers and body are sealed.
    return { status: response.status, headers: {}, body: FORMAT + toBase64Url(joined) };
  }

  async function open(storedKey: string, stored: StoredResponse): Promise<StoredResponse> {
    try {
      if (!stored.body.startsWith(FORMAT)) throw new Error('format');
      const joined = fromBase64Url(stored.body.slice(FORMAT.length));
      if (!joined) throw new Error('encoding');
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: joined.slice(0, 12), additionalData: encoder.encode(storedKey) },
        aesKey,
        joined.slice(12),
      );
      return JSON.parse(decoder.decode(plain)) as StoredResponse;
    } catch {
      throw new IdempotencyDecryptError();
    }
  }

  const storedKeyOf = (key: string) => mac('key', key);

  return {
    async begin(key, fingerprint, ttlMs): Promise<BeginResult> {
      const storedKey = await storedKeyOf(key);
      const result = await inner.begin(storedKey, await mac('fingerprint', fingerprint), ttlMs);
      if (result.kind !== 'replay') return result;
      return { kind: 'replay', response: await open(storedKey, result.response) };
    },
    async complete(key, response, claim) {
      const storedKey = await storedKeyOf(key);
      await inner.complete(storedKey, await seal(storedKey, response), claim);
    },
    async release(key, claim) {
      await inner.release(await storedKeyOf(key), claim);
    },
  };
}
