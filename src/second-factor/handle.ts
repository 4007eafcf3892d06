/**
 * Opaque handles for multi-step sign-ins (second factor, passwordless code). A handle carries
 * what the gateway needs for the next step — for the second factor, the AAL1 Kratos session
 * token — sealed with AES-256-GCM, so the client holds neither a readable nor a usable token:
 * the gateway keeps no state between the steps and works the same on every instance.
 *
 * Keys come from `secrets.session` (first seals, every entry opens) with their own HKDF info,
 * so a handle never opens as a session cookie or the other way round; without secrets a random
 * per-process key is used (handles then work only on the instance that issued them). The
 * purpose (`second_factor`, `login_code`, `registration_code`, `settings`) is authenticated with the
 * ciphertext: a handle of one kind is refused by the others.
 *
 * Format: `h1.<base64url(iv)>.<base64url(ciphertext+tag)>`.
 */

import { fromBase64Url, hkdfParams, importHkdfSecret, randomSecret, toBase64Url } from '../shared/crypto.ts';

export type HandlePurpose = 'second_factor' | 'login_code' | 'registration_code' | 'settings';

const VERSION = 'h1';
const IV_BYTES = 12;
const HKDF_SALT = 'kratos-bff/handle';
const ENC_INFO = 'kratos-bff sign-in handle v1';
// Bounds the work a forged value can cause; a code sign-up handle carries traits and fields.
const MAX_HANDLE_LENGTH = 16_384;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface HandleSealer {
  /** Seals `payload` for `purpose` until `expiresAt` (ms since the epoch). */
  seal(purpose: HandlePurpose, payload: Record<string, unknown>, expiresAt: number): Promise<string>;
  /** The payload, or undefined when the handle is malformed, forged, of another purpose or expired. */
  open(purpose: HandlePurpose, handle: string, now: number): Promise<Record<string, unknown> | undefined>;
}

export function createHandleSealer(secrets: readonly string[]): HandleSealer {
  let keys: Promise<CryptoKey[]> | undefined;
  const get = () =>
    (keys ??= Promise.all(
      (secrets.length > 0 ? secrets : [randomSecret()]).map(async (secret) => {
        const ikm = await importHkdfSecret(secret, ['deriveKey']);
        return crypto.subtle.deriveKey(hkdfParams(HKDF_SALT, ENC_INFO), ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      }),
    ));
  const aad = (purpose: HandlePurpose) => encoder.encode(`${VERSION}.${purpose}`);

  return {
    async seal(purpose, payload, expiresAt) {
      const [key] = await get();
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      const plain = encoder.encode(JSON.stringify({ p: payload, e: expiresAt }));
      const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad(purpose) }, key!, plain);
      return `${VERSION}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
    },
    async open(purpose, handle, now) {
      if (handle.length > MAX_HANDLE_LENGTH) return undefined;
      const [version, ivText, dataText, ...rest] = handle.split('.');
      if (version !== VERSION || rest.length > 0 || !ivText || !dataText) return undefined;
      const iv = fromBase64Url(ivText);
      const data = fromBase64Url(dataText);
      if (!iv || iv.length !== IV_BYTES || !data) return undefined;
      for (const key of await get()) {
        let plain: ArrayBuffer;
        try {
          plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad(purpose) }, key, data);
        } catch {
          continue;
        }
        const parsed = JSON.parse(decoder.decode(plain)) as { p: Record<string, unknown>; e: number };
        return parsed.e > now ? parsed.p : undefined;
      }
      return undefined;
    },
  };
}

const sealers = new WeakMap<object, HandleSealer>();

/** The one sealer of a gateway config (login and code routes share it). */
export function handleSealerFor(config: { secrets: { session: readonly string[] } }): HandleSealer {
  let sealer = sealers.get(config);
  if (!sealer) sealers.set(config, (sealer = createHandleSealer(config.secrets.session)));
  return sealer;
}
