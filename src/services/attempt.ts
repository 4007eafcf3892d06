import type { FieldError } from '../errors.ts';
import { TransportError, type HttpRequest, type HttpResponse, type HttpTransport } from '../shared/http.ts';
import type { Logger } from '../shared/log.ts';
import { DEFAULT_REJECTION_CODE, GENERIC_REJECTION_MESSAGE, type ServiceConfig } from './config.ts';
import { compileJsonTemplate, compileUrl, getPath, TemplateError, type TemplateContext } from './template.ts';
import { signalOf, type AbortLike } from '../shared/abort.ts';

/**
 * One attempt at one external service, HTTP or TypeScript function, turned into a plain
 * outcome. Retries, steps and verdicts are the runner's (`runner.ts`, `stages.ts`).
 */

/** What one service said, after its retries. `reason` is for logs and never holds secrets. */
export type ServiceOutcome =
  | { kind: 'ok'; metadataPublic?: Record<string, unknown>; metadataAdmin?: Record<string, unknown>; response?: unknown }
  | { kind: 'rejected'; errors: FieldError[] }
  | {
      kind: 'failed';
      reason: string;
      /** The failure looked transient (network, timeout, 5xx, 429, a thrown error): another try may work. */
      retryable?: boolean;
    };

/**
 * TypeScript users register functions with the same contract as an HTTP service. A thrown
 * error or a timeout counts as a retryable failure; a returned `failed` is retried only when
 * it says `retryable: true`. `signal` aborts when the service's timeout passes.
 */
export type ServiceFunction = (
  ctx: TemplateContext,
  meta: { idempotencyKey: string; attemptRequestId: string; signal: AbortSignal },
) => Promise<ServiceOutcome>;

/** What an attempt needs besides the service and its context. */
export interface AttemptDeps {
  transport: HttpTransport;
  functions: Record<string, ServiceFunction>;
  now: () => number;
}

/** The internal result of one attempt: the outcome plus what the retry loop needs. */
export interface Attempt {
  outcome: ServiceOutcome;
  retryAfterMs?: number;
}

const MAX_REJECTION_ERRORS = 20;
const MAX_MESSAGE_LENGTH = 500;

function parseJson(body: string): unknown {
  if (body.trim() === '') return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Maps a rejection response to field errors: fixed, read from the body, or a generic one. */
export function rejectionErrors(service: Pick<ServiceConfig, 'rejection'>, body: unknown): FieldError[] {
  const rejection = service.rejection;
  const code = rejection?.code ?? DEFAULT_REJECTION_CODE;
  if (rejection?.pointer !== undefined && rejection.message !== undefined) {
    return [{ pointer: rejection.pointer, code, message: rejection.message }];
  }
  const errors: FieldError[] = [];
  if (rejection?.from_body) {
    const { errors_path, pointer_key, message_key } = rejection.from_body;
    const list = getPath(body, errors_path);
    if (Array.isArray(list)) {
      for (const item of list.slice(0, MAX_REJECTION_ERRORS)) {
        const pointer = getPath(item, pointer_key);
        const message = getPath(item, message_key);
        errors.push({
          // A service's pointer is used only when it is a JSON pointer; else the whole request.
          pointer: typeof pointer === 'string' && (pointer === '' || pointer.startsWith('/')) && pointer.length <= 512 ? pointer : '',
          code,
          message:
            typeof message === 'string' && message.trim() !== ''
              ? message.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, MAX_MESSAGE_LENGTH)
              : GENERIC_REJECTION_MESSAGE,
        });
      }
    }
  }
  return errors.length > 0 ? errors : [{ pointer: '', code, message: GENERIC_REJECTION_MESSAGE }];
}

/** Copies `save` paths out of a response; missing paths are left out (and named in `missing`). */
function extractMetadata(map: Record<string, string> | undefined, response: unknown, missing: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, path] of Object.entries(map ?? {})) {
    const value = getPath(response, path);
    if (value === undefined) missing.push(path);
    else out[key] = value;
  }
  return out;
}

function isOutcome(value: unknown): value is ServiceOutcome {
  if (value === null || typeof value !== 'object') return false;
  const kind = (value as { kind?: unknown }).kind;
  if (kind === 'ok') return true;
  if (kind === 'rejected') return Array.isArray((value as { errors?: unknown }).errors);
  if (kind === 'failed') return typeof (value as { reason?: unknown }).reason === 'string';
  return false;
}

/** An ok outcome with nothing in it (shared: outcomes are never changed in place). */
const OK: ServiceOutcome = Object.freeze({ kind: 'ok' });

const timedOut = Symbol('timed out');
const aborted = Symbol('aborted');

/** What an HTTP service's request is built from, compiled once per service config. */
interface CompiledHttpCall {
  url: (ctx: TemplateContext) => { origin: string; path: string };
  body: ((ctx: TemplateContext) => string) | undefined;
  /** Configured headers, then the gateway's own fixed ones (which win). */
  headers: Record<string, string>;
}

const compiledCalls = new WeakMap<ServiceConfig, CompiledHttpCall>();

function compiledCall(service: ServiceConfig): CompiledHttpCall {
  let compiled = compiledCalls.get(service);
  if (!compiled) {
    const http = service.http!;
    const body = http.body === undefined ? undefined : compileJsonTemplate(http.body);
    compiled = {
      url: compileUrl(http.url),
      body,
      headers: { ...http.headers, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
    };
    compiledCalls.set(service, compiled);
  }
  return compiled;
}

export function attemptHttp(deps: AttemptDeps, service: ServiceConfig, ctx: TemplateContext, idempotencyKey: string, attemptId: string, signal: AbortLike | undefined): Promise<Attempt> {
  const call = compiledCall(service);
  let target: { origin: string; path: string };
  let body: string | undefined;
  try {
    target = call.url(ctx);
    body = call.body?.(ctx);
  } catch (err) {
    if (err instanceof TemplateError) return Promise.resolve({ outcome: { kind: 'failed', reason: `template: ${err.message}`, retryable: false } });
    return Promise.reject(err);
  }
  const headers: Record<string, string> = Object.assign({}, call.headers, { 'idempotency-key': idempotencyKey, 'x-request-id': attemptId });
  const request: HttpRequest = { method: service.http!.method, origin: target.origin, path: target.path, headers, timeoutMs: service.timeout_ms, signal };
  if (body !== undefined) request.body = body;
  let sent: Promise<HttpResponse>;
  try {
    sent = deps.transport(request);
  } catch (err) {
    sent = Promise.reject(err);
  }
  // `then` rather than an async frame: one promise per attempt less (issue 16).
  return sent.then((res) => answered(deps, service, res), notAnswered);
}

/** No HTTP answer: aborted, timed out, unreachable, or a transport that threw. */
function notAnswered(err: unknown): Attempt {
  if (err instanceof TransportError && err.aborted) return { outcome: { kind: 'failed', reason: 'aborted', retryable: false } };
  if (err instanceof TransportError) {
    return { outcome: { kind: 'failed', reason: err.timedOut ? 'timed out' : 'unreachable', retryable: true } };
  }
  // Not a transport's own error: its message is not ours to trust with secrets.
  return { outcome: { kind: 'failed', reason: `transport threw ${err instanceof Error ? err.name : typeof err}`, retryable: true } };
}

/** An HTTP service's answer as an attempt's outcome. */
function answered(deps: AttemptDeps, service: ServiceConfig, res: HttpResponse): Attempt {
  if (res.status >= 200 && res.status < 300) {
    // The response is read only to save parts of it (`save`); otherwise it is not parsed at all.
    return { outcome: service.save ? { kind: 'ok', response: parseJson(res.body) } : OK };
  }
  if (service.rejected_statuses.includes(res.status)) {
    return { outcome: { kind: 'rejected', errors: rejectionErrors(service, parseJson(res.body)) } };
  }
  if (res.status === 429 || res.status >= 500) {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'], deps.now());
    return {
      outcome: { kind: 'failed', reason: `HTTP ${res.status}`, retryable: true },
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }
  // Other statuses (401, 404, a redirect…) are the gateway's or the service's setup problem:
  // trying again would only repeat it.
  return { outcome: { kind: 'failed', reason: `HTTP ${res.status}`, retryable: false } };
}

export async function attemptFunction(deps: AttemptDeps, service: ServiceConfig, ctx: TemplateContext, idempotencyKey: string, attemptId: string, abort: AbortLike | undefined): Promise<Attempt> {
  const fn = deps.functions[service.function!]!;
  const signal = abort && signalOf(abort);
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const deadline = new Promise<typeof timedOut | typeof aborted>((resolve) => {
    timer = setTimeout(() => resolve(timedOut), service.timeout_ms);
    if (signal) {
      onAbort = () => resolve(aborted);
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    if (signal?.aborted) return { outcome: { kind: 'failed', reason: 'aborted', retryable: false } };
    // structuredClone: a function must not change the context the next service sees.
    const result = await Promise.race([
      fn(structuredClone(ctx), { idempotencyKey, attemptRequestId: attemptId, signal: controller.signal }),
      deadline,
    ]);
    if (result === aborted) {
      controller.abort(signal?.reason);
      return { outcome: { kind: 'failed', reason: 'aborted', retryable: false } };
    }
    if (result === timedOut) {
      controller.abort(new DOMException('service timed out', 'TimeoutError'));
      return { outcome: { kind: 'failed', reason: 'timed out', retryable: true } };
    }
    if (!isOutcome(result)) return { outcome: { kind: 'failed', reason: 'function returned an invalid outcome', retryable: false } };
    if (result.kind === 'rejected' && result.errors.length === 0) {
      return { outcome: { kind: 'rejected', errors: rejectionErrors({}, undefined) } };
    }
    return { outcome: result };
  } catch (err) {
    // The name only: a message written by the function's author may quote a key or a URL.
    return { outcome: { kind: 'failed', reason: `function threw ${err instanceof Error ? err.name : typeof err}`, retryable: true } };
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** Adds `save` metadata to an ok outcome (and merges what a function returned itself). */
export function withMetadata(service: ServiceConfig, outcome: ServiceOutcome, log: Logger): ServiceOutcome {
  if (outcome.kind !== 'ok' || !service.save) return outcome;
  const missing: string[] = [];
  const pub = Object.assign({}, outcome.metadataPublic, extractMetadata(service.save.metadata_public, outcome.response, missing));
  const admin = Object.assign({}, outcome.metadataAdmin, extractMetadata(service.save.metadata_admin, outcome.response, missing));
  // Paths only: the response values themselves may be personal data.
  if (missing.length > 0) log.warn('service response lacks paths to save', { service: service.name, paths: missing });
  return {
    ...outcome,
    ...(Object.keys(pub).length > 0 ? { metadataPublic: pub } : {}),
    ...(Object.keys(admin).length > 0 ? { metadataAdmin: admin } : {}),
  };
}
