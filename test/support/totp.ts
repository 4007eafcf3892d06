import { createHmac } from 'node:crypto';

/** RFC 4648 base32 (no padding) to bytes. */
function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of text.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error('not base32');
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 TOTP as Kratos checks it: HMAC-SHA1, 6 digits, 30 s period. */
export function totp(secret: string, now = Date.now()): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30_000)));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const o = mac[19]! & 15;
  const n = (((mac[o]! & 0x7f) << 24) | (mac[o + 1]! << 16) | (mac[o + 2]! << 8) | mac[o + 3]!) % 1_000_000;
  return String(n).padStart(6, '0');
}

/** A 6-digit code that is not valid now (nor in the ±1 step window Kratos allows). */
export function wrongTotp(secret: string, now = Date.now()): string {
  const valid = new Set([-1, 0, 1].map((step) => totp(secret, now + step * 30_000)));
  for (let i = 0; ; i++) {
    const candidate = String((Number(totp(secret, now)) + 1 + i * 7919) % 1_000_000).padStart(6, '0');
    if (!valid.has(candidate)) return candidate;
  }
}
