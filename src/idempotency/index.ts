/** Idempotency-Key for sign-up: the store interface, the memory store, encryption, keys, config. */
export { createMemoryIdempotencyStore, type BeginResult, type IdempotencyStore, type MemoryIdempotencyStoreOptions, type StoredResponse, StateUnavailableError } from './store.ts';
export { createRedisIdempotencyStore, type RedisIdempotencyStoreOptions, type RedisScriptClient } from './redis-store.ts';
export { encryptingStore, IdempotencyDecryptError } from './encrypting-store.ts';
export { fingerprintRequest, idempotencyKeyFromHeader, isValidIdempotencyKey } from './key.ts';
export { idempotencyConfigSchema, type IdempotencyConfig } from './config.ts';
