import type { AppContext } from '../app-env.ts';
import { AppError } from '../errors.ts';
import { fingerprintRequest, idempotencyKeyFromHeader } from './key.ts';
import { StateUnavailableError } from './store.ts';

// Headers a replay must repeat: the session cookie above all.
const replayedHeaders = ['content-type', 'set-cookie', 'location'];

/**
 * Idempotency-Key on sign-up (IETF draft, Stripe's practice): same key and same body → the
 * first answer is replayed (status, body, cookie); a different body → 422; while the first is
 * still running → 409. Without the header the request runs as usual with a fresh key, which
 * external services receive so they can dedupe the gateway's own retries.
 *
 * Answers are kept when an identity was created (success, or a rollback that failed, so a
 * retry can never make a second account); when nothing was created the key is released and
 * the client may retry with it.
 */
/** The store's underlying failure, as a short message (no stack in every 503's log line). */
const causeOf = (err: StateUnavailableError) => (err.cause instanceof Error ? err.cause.message : String(err.cause));

/** A sign-up's answer, and whether an identity it created still exists (then the answer is kept). */
export interface SignUpAnswer {
  response: Response;
  identityExists: boolean;
}

const responseOf = (answer: SignUpAnswer) => answer.response;

export function withIdempotency(c: AppContext, body: unknown, run: (key: string) => Promise<SignUpAnswer>): Promise<Response> {
  const header = c.req.header('idempotency-key');
  // No key: a fresh one for the services, and nothing to keep (no async frame of its own).
  if (header === undefined) return run(crypto.randomUUID()).then(responseOf);
  return keyed(c, body, run, header);
}

async function keyed(c: AppContext, body: unknown, run: (key: string) => Promise<SignUpAnswer>, header: string): Promise<Response> {
  const key = idempotencyKeyFromHeader(header);
  if (!key) throw new AppError('INVALID_IDEMPOTENCY_KEY');
  const store = await c.get('gateway').idempotency();
  const fingerprint = await fingerprintRequest({ method: c.req.method, path: c.req.path, body: JSON.stringify(body) });
  const log = c.get('log');
  let begun;
  try {
    begun = await store.begin(key, fingerprint, c.get('gateway').config.idempotency.ttl_ms);
  } catch (err) {
    // Without the shared store a retry could run twice: refuse rather than risk a duplicate.
    if (err instanceof StateUnavailableError) {
      log.warn('idempotency store unavailable', { error: causeOf(err) });
      throw new AppError('STATE_UNAVAILABLE');
    }
    throw err;
  }
  switch (begun.kind) {
    case 'replay':
      log.info('idempotent replay', { status: begun.response.status });
      c.get('gateway').telemetry.metrics.idempotency('replay');
      return new Response(begun.response.body, {
        status: begun.response.status,
        headers: [...Object.entries(begun.response.headers).flatMap(([k, v]) => (k === 'set-cookie' ? v.split('\n').map((x) => [k, x] as [string, string]) : [[k, v] as [string, string]])), ['idempotent-replayed', 'true']],
      });
    case 'in_progress':
      c.get('gateway').telemetry.metrics.idempotency('conflict');
      throw new AppError('IDEMPOTENCY_KEY_IN_USE');
    case 'mismatch':
      c.get('gateway').telemetry.metrics.idempotency('mismatch');
      throw new AppError('IDEMPOTENCY_KEY_MISMATCH');
    case 'started':
      break;
  }
  const claim = begun.claim;
  // A shared store that went away after the claim: the claim's lease runs out by itself, so
  // a failed release is only logged; the request's own answer still goes out.
  const release = () =>
    store.release(key, claim).catch((err: unknown) => {
      if (!(err instanceof StateUnavailableError)) throw err;
      log.warn('idempotency claim not released (store unavailable); it lapses with its lease', { error: causeOf(err) });
    });
  let answer: SignUpAnswer;
  try {
    answer = await run(key);
  } catch (err) {
    // Whatever was thrown, nothing exists: the key may be used again.
    await release();
    throw err;
  }
  const res = answer.response;
  if (answer.identityExists) {
    const headers: Record<string, string> = {};
    for (const name of replayedHeaders) {
      const values = name === 'set-cookie' ? res.headers.getSetCookie() : [res.headers.get(name)].filter((v): v is string => v !== null);
      if (values.length > 0) headers[name] = values.join('\n');
    }
    try {
      await store.complete(key, { status: res.status, headers, body: await res.clone().text() }, claim);
    } catch (err) {
      if (!(err instanceof StateUnavailableError)) throw err;
      // The identity exists and this client gets its answer. A retry after the lease would run
      // again, and Kratos refuses the same identifier (IDENTIFIER_TAKEN), so no second account.
      log.error('idempotent answer not stored (store unavailable)', { error: causeOf(err) });
    }
  } else {
    await release();
  }
  return res;
}
