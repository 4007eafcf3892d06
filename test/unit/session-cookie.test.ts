import { describe, expect, it } from 'vitest';
import { deriveCookieKeys, openSessionCookie, sealSessionCookie } from '../../src/session/sealed-cookie.ts';

const OLD = 'old-secret-old-secret-old-secret-0001';
const NEW = 'new-secret-new-secret-new-secret-0002';
const now = Date.UTC(2026, 0, 1);
const payload = { token: 'ory_st_abcdefghijklmnopqrstuvwxyz012345', expiresAt: now + 3_600_000 };

/** Replaces one character of part `index` of a sealed value with another base64url character. */
function tamper(value: string, index: number, at = 0): string {
  const parts = value.split('.');
  const part = parts[index] ?? '';
  const pos = Math.min(at, part.length - 1);
  const ch = part[pos] === 'A' ? 'B' : 'A';
  parts[index] = part.slice(0, pos) + ch + part.slice(pos + 1);
  return parts.join('.');
}

describe('session cookie', () => {
  it('round-trips the token and expiry in a cookie-safe value', async () => {
    const keys = await deriveCookieKeys([NEW]);
    const value = await sealSessionCookie(keys, payload);
    expect(value).toMatch(/^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(value).not.toContain(payload.token);
    expect(await openSessionCookie(keys, value, now)).toEqual({ ok: true, ...payload });
  });

  it('uses a public key id that does not contain the secret', async () => {
    const [a, b] = await Promise.all([deriveCookieKeys([NEW]), deriveCookieKeys([NEW])]);
    const id = (await sealSessionCookie(a, payload)).split('.')[1];
    expect((await sealSessionCookie(b, payload)).split('.')[1]).toBe(id);
    expect(NEW).not.toContain(id);
  });

  it('seals the same payload differently each time (random IV)', async () => {
    const keys = await deriveCookieKeys([NEW]);
    const [a, b] = await Promise.all([sealSessionCookie(keys, payload), sealSessionCookie(keys, payload)]);
    expect(a).not.toBe(b);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
  });

  describe('rotation', () => {
    it('opens a value sealed under an old secret while it is still listed', async () => {
      const value = await sealSessionCookie(await deriveCookieKeys([OLD]), payload);
      expect(await openSessionCookie(await deriveCookieKeys([NEW, OLD]), value, now)).toEqual({ ok: true, ...payload });
    });

    it('refuses it once the old secret is removed', async () => {
      const value = await sealSessionCookie(await deriveCookieKeys([OLD]), payload);
      expect(await openSessionCookie(await deriveCookieKeys([NEW]), value, now)).toEqual({ ok: false, reason: 'bad_signature' });
    });

    it('seals new values with the first secret', async () => {
      const value = await sealSessionCookie(await deriveCookieKeys([NEW, OLD]), payload);
      expect(await openSessionCookie(await deriveCookieKeys([OLD]), value, now)).toEqual({ ok: false, reason: 'bad_signature' });
      expect(await openSessionCookie(await deriveCookieKeys([NEW]), value, now)).toEqual({ ok: true, ...payload });
    });
  });

  describe('tampering', () => {
    it.each([
      ['key id', 1, 0, 'bad_signature'],
      ['key id, last character', 1, 7, 'bad_signature'],
      ['iv', 2, 0, 'bad_signature'],
      ['iv, last character', 2, 15, 'bad_signature'],
      ['ciphertext', 3, 0, 'bad_signature'],
      ['ciphertext, middle', 3, 20, 'bad_signature'],
      ['version', 0, 0, 'malformed'],
    ] as const)('refuses a changed %s', async (_name, index, at, reason) => {
      const keys = await deriveCookieKeys([NEW, OLD]);
      const value = await sealSessionCookie(keys, payload);
      const changed = tamper(value, index, at);
      expect(changed).not.toBe(value);
      expect(await openSessionCookie(keys, changed, now)).toEqual({ ok: false, reason });
    });

    it('refuses a flipped last ciphertext character (tag or non-canonical base64url)', async () => {
      const keys = await deriveCookieKeys([NEW]);
      const value = await sealSessionCookie(keys, payload);
      const result = await openSessionCookie(keys, tamper(value, 3, Number.MAX_SAFE_INTEGER), now);
      expect(result.ok).toBe(false);
    });

    it('refuses a value whose parts come from two different seals', async () => {
      const keys = await deriveCookieKeys([NEW]);
      const a = (await sealSessionCookie(keys, payload)).split('.');
      const b = (await sealSessionCookie(keys, payload)).split('.');
      expect(await openSessionCookie(keys, [a[0], a[1], a[2], b[3]].join('.'), now)).toEqual({ ok: false, reason: 'bad_signature' });
    });

    it.each([
      ['empty', ''],
      ['no dots', 'v1'],
      ['too few parts', 'v1.AAAAAAAA.AAAAAAAAAAAAAAAA'],
      ['too many parts', 'v1.AAAAAAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.x'],
      ['unknown version', 'v2.AAAAAAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
      ['short key id', 'v1.AAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
      ['short iv', 'v1.AAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
      ['ciphertext no longer than the tag', 'v1.AAAAAAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA'],
      ['padding', 'v1.AAAAAAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=='],
      ['standard base64 characters', 'v1.AAAAAAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA+/AAA'],
      ['impossible base64 length', 'v1.AAAAAAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
      ['oversized', `v1.AAAAAAAA.AAAAAAAAAAAAAAAA.${'A'.repeat(5000)}`],
    ])('refuses a malformed value: %s', async (_name, value) => {
      const keys = await deriveCookieKeys([NEW]);
      expect(await openSessionCookie(keys, value, now)).toEqual({ ok: false, reason: 'malformed' });
    });

    it('refuses a well-formed value sealed by nobody', async () => {
      const keys = await deriveCookieKeys([NEW]);
      expect(await openSessionCookie(keys, 'v1.AAAAAAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', now)).toEqual({ ok: false, reason: 'bad_signature' });
    });
  });

  describe('expiry', () => {
    it('opens until the expiry and refuses from the expiry on', async () => {
      const keys = await deriveCookieKeys([NEW]);
      const value = await sealSessionCookie(keys, payload);
      expect((await openSessionCookie(keys, value, payload.expiresAt - 1)).ok).toBe(true);
      expect(await openSessionCookie(keys, value, payload.expiresAt)).toEqual({ ok: false, reason: 'expired' });
      expect(await openSessionCookie(keys, value, payload.expiresAt + 1)).toEqual({ ok: false, reason: 'expired' });
    });

    it('reports a forged value as bad_signature even when its clock would be past', async () => {
      const keys = await deriveCookieKeys([NEW]);
      const value = tamper(await sealSessionCookie(keys, payload), 3, 5);
      expect(await openSessionCookie(keys, value, payload.expiresAt + 1)).toEqual({ ok: false, reason: 'bad_signature' });
    });
  });

  describe('keys', () => {
    it('throws on a short secret, naming its index', async () => {
      await expect(deriveCookieKeys([NEW, 'too-short'])).rejects.toThrow(/secrets\.session\[1\].*32 characters/);
      await expect(deriveCookieKeys(['x'.repeat(31)])).rejects.toThrow(/secrets\.session\[0\]/);
    });

    it('throws without any secret', async () => {
      await expect(deriveCookieKeys([])).rejects.toThrow(/at least one secret/);
    });

    it('accepts a secret of exactly 32 characters', async () => {
      await expect(deriveCookieKeys(['x'.repeat(32)])).resolves.toBeDefined();
    });

    it('refuses to seal an empty token or a non-finite expiry', async () => {
      const keys = await deriveCookieKeys([NEW]);
      await expect(sealSessionCookie(keys, { token: '', expiresAt: payload.expiresAt })).rejects.toThrow(TypeError);
      await expect(sealSessionCookie(keys, { token: payload.token, expiresAt: Number.NaN })).rejects.toThrow(TypeError);
    });
  });
});
