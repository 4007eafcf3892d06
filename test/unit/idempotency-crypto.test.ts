import { describe, expect, it } from 'vitest';
import { idempotencyConfigSchema } from '../../src/idempotency/config.ts';
import { encryptingStore, IdempotencyDecryptError } from '../../src/idempotency/encrypting-store.ts';
import { fingerprintRequest, idempotencyKeyFromHeader, isValidIdempotencyKey } from '../../src/idempotency/key.ts';
import { createMemoryIdempotencyStore, type IdempotencyStore, type StoredResponse } from '../../src/idempotency/store.ts';

const SECRET = 'a-32-character-secret-for-tests!';
const TOKEN = 'ory_st_TOPSECRETSESSIONTOKEN';
const response: StoredResponse = {
  status: 200,
  headers: { 'set-cookie': `bff_session=${TOKEN}; HttpOnly; Secure` },
  body: JSON.stringify({ identity: { id: 'id-1', traits: { email: 'ada@example.com' } }, session_token: TOKEN }),
};

/** A memory store that records everything it is handed. */
function spyStore() {
  const inner = createMemoryIdempotencyStore({});
  const seen: unknown[] = [];
  const store: IdempotencyStore = {
    begin: async (...args) => (seen.push(args), inner.begin(...args)),
    complete: async (...args) => (seen.push(args), inner.complete(...args)),
    release: async (...args) => (seen.push(args), inner.release(...args)),
  };
  return { store, seen };
}

describe('fingerprintRequest', () => {
  const body = JSON.stringify({ traits: { email: 'ada@example.com' }, password: 'correct-horse' });

  it('is the hex SHA-256 of method, path and canonical JSON body', async () => {
    const fp = await fingerprintRequest({ method: 'post', path: '/v1/registration', body });
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    const reordered = '{ "password": "correct-horse",\n  "traits": {"email":"ada@example.com"} }';
    expect(await fingerprintRequest({ method: 'POST', path: '/v1/registration', body: reordered })).toBe(fp);
  });

  it('differs when the body, path (query included) or method differ', async () => {
    const base = { method: 'POST', path: '/v1/registration', body };
    const fp = await fingerprintRequest(base);
    const variants = [
      { ...base, body: body.replace('correct-horse', 'other-horse') },
      { ...base, path: '/v1/registration?return_to=https://app.example.com/' },
      { ...base, method: 'PUT' },
      { ...base, body: 'not json' },
    ];
    for (const v of variants) expect(await fingerprintRequest(v)).not.toBe(fp);
    expect(await fingerprintRequest({ ...base, body: 'not json' })).toBe(await fingerprintRequest({ ...base, body: 'not json' }));
  });
});

describe('idempotency keys', () => {
  it('accepts 1..255 printable ASCII characters without spaces', () => {
    for (const key of ['a', '8e03978e-40d5-43e8-bc93-6894a57f9324', 'x'.repeat(255), '!~{}"\\']) expect(isValidIdempotencyKey(key)).toBe(true);
    for (const key of ['', 'x'.repeat(256), 'has space', 'tab\t', 'newline\n', 'é', '\u0000']) expect(isValidIdempotencyKey(key)).toBe(false);
  });

  it('reads the header as a bare token or as the IETF draft sf-string', () => {
    expect(idempotencyKeyFromHeader('abc-123')).toBe('abc-123');
    expect(idempotencyKeyFromHeader(' "8e03978e-40d5" ')).toBe('8e03978e-40d5');
    expect(idempotencyKeyFromHeader('"a\\"b\\\\c"')).toBe('a"b\\c');
    expect(idempotencyKeyFromHeader('"a"b"')).toBeNull();
    expect(idempotencyKeyFromHeader('""')).toBeNull();
    expect(idempotencyKeyFromHeader('two words')).toBeNull();
  });
});

describe('idempotencyConfigSchema', () => {
  it('defaults to 24 hours, a 30 s lease and 10000 entries, and wants a long secret', () => {
    expect(idempotencyConfigSchema.parse({})).toEqual({ ttl_ms: 86_400_000, lease_ms: 30_000, max_entries: 10_000 });
    const result = idempotencyConfigSchema.safeParse({ secret: 'short', ttl_ms: 10 });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'ttl_ms: must be at least 1000 (one second)',
      'secret: must be at least 32 characters',
    ]);
  });
});

describe('encryptingStore', () => {
  it('replays the original response while the inner store never holds plaintext', async () => {
    const { store: inner, seen } = spyStore();
    const store = await encryptingStore(inner, SECRET);
    const fp = await fingerprintRequest({ method: 'POST', path: '/v1/registration', body: '{"password":"pw"}' });
    expect(await store.begin('client-key-1', fp, 60_000)).toEqual({ kind: 'started' });
    await store.complete('client-key-1', response);
    expect(await store.begin('client-key-1', fp, 60_000)).toEqual({ kind: 'replay', response });

    const kept = JSON.stringify(seen);
    expect(kept).not.toContain(TOKEN);
    expect(kept).not.toContain('ada@example.com');
    expect(kept).not.toContain('set-cookie');
    // Keys and fingerprints are HMACed: a bare SHA-256 of a body with a password is guessable.
    expect(kept).not.toContain('client-key-1');
    expect(kept).not.toContain(fp);
  });

  it('passes mismatch, in_progress and release through', async () => {
    const store = await encryptingStore(createMemoryIdempotencyStore({}), SECRET);
    await store.begin('k', 'fp-a', 60_000);
    expect(await store.begin('k', 'fp-a', 60_000)).toEqual({ kind: 'in_progress' });
    expect(await store.begin('k', 'fp-b', 60_000)).toEqual({ kind: 'mismatch' });
    await store.release('k');
    expect(await store.begin('k', 'fp-b', 60_000)).toEqual({ kind: 'started' });
  });

  it('still lets exactly one of 20 concurrent requests claim a key', async () => {
    const store = await encryptingStore(createMemoryIdempotencyStore({}), SECRET);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.begin('k', 'fp', 60_000)));
    expect(results.filter((r) => r.kind === 'started')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'in_progress')).toHaveLength(19);
  });

  it('seals each response with a fresh IV', async () => {
    const { store: inner, seen } = spyStore();
    const store = await encryptingStore(inner, SECRET);
    for (const k of ['a', 'b']) {
      await store.begin(k, 'fp', 60_000);
      await store.complete(k, response);
    }
    // complete(key, response, claim): the calls whose second argument is a response.
    const sealed = seen.filter((args) => typeof (args as unknown[])[1] === 'object').map((args) => ((args as [string, StoredResponse])[1]).body);
    expect(sealed).toHaveLength(2);
    expect(sealed[0]).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(sealed[0]).not.toBe(sealed[1]);
  });

  it('refuses a tampered or moved ciphertext', async () => {
    const entries = new Map<string, StoredResponse>();
    const inner: IdempotencyStore = {
      begin: async (key) => (entries.has(key) ? { kind: 'replay', response: entries.get(key)! } : { kind: 'started' }),
      complete: async (key, r) => void entries.set(key, r),
      release: async () => {},
    };
    const store = await encryptingStore(inner, SECRET);
    await store.begin('a', 'fp', 60_000);
    await store.complete('a', response);
    await store.begin('b', 'fp', 60_000);
    await store.complete('b', { status: 201, headers: {}, body: 'b' });
    const [[keyA, sealedA], [keyB]] = [...entries] as [[string, StoredResponse], [string, StoredResponse]];
    // Moved under another key: the additional data (the stored key) no longer matches.
    entries.set(keyB, sealedA);
    await expect(store.begin('b', 'fp', 60_000)).rejects.toBeInstanceOf(IdempotencyDecryptError);
    // Flipped byte.
    const flipped = sealedA.body.slice(0, -2) + (sealedA.body.at(-2) === 'A' ? 'B' : 'A') + sealedA.body.at(-1);
    entries.set(keyA, { ...sealedA, body: flipped });
    await expect(store.begin('a', 'fp', 60_000)).rejects.toBeInstanceOf(IdempotencyDecryptError);
    entries.set(keyA, { ...sealedA, body: 'plain text' });
    await expect(store.begin('a', 'fp', 60_000)).rejects.toBeInstanceOf(IdempotencyDecryptError);
  });

  it('does not find entries written under another secret', async () => {
    const inner = createMemoryIdempotencyStore({});
    const one = await encryptingStore(inner, SECRET);
    const two = await encryptingStore(inner, 'another-32-character-secret-abc!');
    await one.begin('k', 'fp', 60_000);
    await one.complete('k', response);
    expect(await two.begin('k', 'fp', 60_000)).toEqual({ kind: 'started' });
  });

  it('refuses a short secret', async () => {
    await expect(encryptingStore(createMemoryIdempotencyStore({}), 'short')).rejects.toThrow(/at least 32 characters/);
  });
});
