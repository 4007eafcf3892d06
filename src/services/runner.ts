import type { FieldError } from '../errors.ts';
import { TransportError, type HttpResponse, type HttpTransport } from '../shared/http.ts';
import type { Logger } from '../shared/log.ts';
import {
  DEFAULT_REJECTION_CODE,
  GENERIC_REJECTION_MESSAGE,
  type OnFailure,
  type ServiceConfig,
  type ServicesConfig,
} from './config.ts';
import { getPath, renderTemplate, renderUrl, TemplateError, type TemplateContext } from './template.ts';

/**
 * Runs the configured external services of a sign-up stage and turns every answer into a
 * plain outcome. It decides nothing about HTTP responses to the client or about Kratos: the
 * registration route reads the `verdict` and the per-service records and acts (400, abort,
 * roll back, report, enqueue).
 */

export type { TemplateContext } from './template.ts';
/** `before` identity creation (can veto) or `after` it (knows the identity). */
export type Stage = 'before' | 'after';

/** One service to run once (with its retries), e.g. from the retry-later queue. */
export interface ServiceCall {
  serviceName: string;
  stage: Stage;
  context: TemplateContext;
  idempotencyKey: string;
  requestId: string;
}

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

/** One service's run within a stage. */
export interface ServiceRun {
  name: string;
  stage: Stage;
  outcome: ServiceOutcome;
  onFailure: OnFailure;
  /** HTTP attempts or function calls made (1 + retries used). */
  attempts: number;
  startedAt: number;
  finishedAt: number;
}

/**
 * What the caller must do about a stage. `before`: `rejected` → 400 with `errors`, `failed` →
 * abort (503 when `retryable`, else 502). `after`: a non-`proceed` verdict comes only from a
 * `rollback` service: delete the identity, then answer as for `before`.
 */
export type StageVerdict =
  | { kind: 'proceed' }
  | { kind: 'rejected'; services: string[]; errors: FieldError[] }
  | { kind: 'failed'; services: string[]; reason: string; retryable: boolean };

/** Everything about one stage's run that the registration route needs. */
export interface StageResult {
  stage: Stage;
  verdict: StageVerdict;
  /** Every service that ran, in config order, with its outcome and on_failure policy. */
  outcomes: ServiceRun[];
  /** Services not run because an earlier step stopped the stage. */
  skipped: string[];
  /** Metadata from successful services (config order; later wins), for the identity PATCH. */
  metadataPublic: Record<string, unknown>;
  metadataAdmin: Record<string, unknown>;
  /** `after` failures that do not undo the sign-up (`continue`, or a rejection under `retry_later`): report them. */
  reported: Array<{ service: string; kind: 'rejected' | 'failed'; reason: string }>;
  /** `after` services that failed under `retry_later`: enqueue them. */
  retryLater: string[];
}

/** Runs the configured services; built once at start. */
export interface ServiceRunner {
  /** Runs a stage's services step by step (a step is one service or one concurrent group). */
  runStage(stage: Stage, ctx: TemplateContext, meta: { idempotencyKey: string; requestId: string; signal?: AbortSignal | undefined }): Promise<StageResult>;
  /** Runs one configured service with its retries (the retry-later queue uses this). */
  runService(call: ServiceCall): Promise<ServiceRun>;
}

/** What the runner is built from; clock, sleep, jitter and ids are injectable for tests. */
export interface ServiceRunnerDeps {
  services: ServicesConfig;
  /** Functions for config entries that say `function: name`. */
  functions?: Record<string, ServiceFunction>;
  transport: HttpTransport;
  logger: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): the jitter source. */
  random?: () => number;
  /** A fresh id per attempt, sent as X-Request-Id. */
  newId?: () => string;
}

/** The internal result of one attempt: the outcome plus what the retry loop needs. */
interface Attempt {
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

const timedOut = Symbol('timed out');
const aborted = Symbol('aborted');

/** Builds the runner once at start; it throws if a `function:` service has no function. */
export function createServiceRunner(deps: ServiceRunnerDeps): ServiceRunner {
  const now = deps.now ?? (() => Date.now());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = deps.random ?? Math.random;
  const newId = deps.newId ?? (() => crypto.randomUUID());
  const functions = deps.functions ?? {};
  const byName = new Map(deps.services.map((s) => [s.name, s]));

  const unregistered = deps.services.filter((s) => s.function !== undefined && !Object.hasOwn(functions, s.function));
  if (unregistered.length > 0) {
    throw new Error(`no function registered for service(s): ${unregistered.map((s) => `${s.name} (function: ${s.function})`).join(', ')}`);
  }

  async function attemptHttp(service: ServiceConfig, ctx: TemplateContext, idempotencyKey: string, attemptId: string, signal: AbortSignal | undefined): Promise<Attempt> {
    const http = service.http!;
    let url: URL;
    let body: string | undefined;
    try {
      url = renderUrl(http.url, ctx);
      body = http.body === undefined ? undefined : JSON.stringify(renderTemplate(http.body, ctx));
    } catch (err) {
      if (err instanceof TemplateError) return { outcome: { kind: 'failed', reason: `template: ${err.message}`, retryable: false } };
      throw err;
    }
    // Configured headers first, so the gateway's own ones always win.
    const headers: Record<string, string> = {
      ...http.headers,
      accept: 'application/json',
      'idempotency-key': idempotencyKey,
      'x-request-id': attemptId,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';

    let res: HttpResponse;
    try {
      res = await deps.transport({
        method: http.method,
        origin: url.origin,
        path: url.pathname + url.search,
        headers,
        ...(body !== undefined ? { body } : {}),
        timeoutMs: service.timeout_ms,
        signal,
      });
    } catch (err) {
      if (err instanceof TransportError && err.aborted) return { outcome: { kind: 'failed', reason: 'aborted', retryable: false } };
      if (err instanceof TransportError) {
        return { outcome: { kind: 'failed', reason: err.timedOut ? 'timed out' : 'unreachable', retryable: true } };
      }
      // Not a transport's own error: its message is not ours to trust with secrets.
      return { outcome: { kind: 'failed', reason: `transport threw ${err instanceof Error ? err.name : typeof err}`, retryable: true } };
    }

    if (res.status >= 200 && res.status < 300) {
      return { outcome: { kind: 'ok', response: parseJson(res.body) } };
    }
    if (service.rejected_statuses.includes(res.status)) {
      return { outcome: { kind: 'rejected', errors: rejectionErrors(service, parseJson(res.body)) } };
    }
    if (res.status === 429 || res.status >= 500) {
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], now());
      return {
        outcome: { kind: 'failed', reason: `HTTP ${res.status}`, retryable: true },
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    }
    // Other statuses (401, 404, a redirect…) are the gateway's or the service's setup problem:
    // trying again would only repeat it.
    return { outcome: { kind: 'failed', reason: `HTTP ${res.status}`, retryable: false } };
  }

  async function attemptFunction(service: ServiceConfig, ctx: TemplateContext, idempotencyKey: string, attemptId: string, signal: AbortSignal | undefined): Promise<Attempt> {
    const fn = functions[service.function!]!;
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
  function withMetadata(service: ServiceConfig, outcome: ServiceOutcome, log: Logger): ServiceOutcome {
    if (outcome.kind !== 'ok' || !service.save) return outcome;
    const missing: string[] = [];
    const pub = { ...outcome.metadataPublic, ...extractMetadata(service.save.metadata_public, outcome.response, missing) };
    const admin = { ...outcome.metadataAdmin, ...extractMetadata(service.save.metadata_admin, outcome.response, missing) };
    // Paths only: the response values themselves may be personal data.
    if (missing.length > 0) log.warn('service response lacks paths to save', { service: service.name, paths: missing });
    return {
      ...outcome,
      ...(Object.keys(pub).length > 0 ? { metadataPublic: pub } : {}),
      ...(Object.keys(admin).length > 0 ? { metadataAdmin: admin } : {}),
    };
  }

  async function runOne(service: ServiceConfig, ctx: TemplateContext, idempotencyKey: string, log: Logger, signal?: AbortSignal): Promise<ServiceRun> {
    const startedAt = now();
    let attempts = 0;
    let last: Attempt;
    for (;;) {
      attempts++;
      const attemptId = newId();
      const t0 = now();
      last = service.http
        ? await attemptHttp(service, ctx, idempotencyKey, attemptId, signal)
        : await attemptFunction(service, ctx, idempotencyKey, attemptId, signal);
      const o = last.outcome;
      // Never headers, URL or bodies: they may carry secrets and personal data.
      log.debug('service attempt', {
        service: service.name,
        attempt: attempts,
        attempt_id: attemptId,
        result: o.kind,
        ...(o.kind === 'failed' ? { reason: o.reason } : {}),
        duration_ms: now() - t0,
      });
      if (o.kind !== 'failed' || !o.retryable || attempts > service.retries || signal?.aborted) break;
      // Full jitter (AWS's "exponential backoff and jitter"): spreads retries of many
      // sign-ups hitting one recovering service.
      let delay = Math.floor(random() * service.retry_backoff_ms * 2 ** (attempts - 1));
      if (last.retryAfterMs !== undefined) {
        if (last.retryAfterMs > service.retry_after_cap_ms) {
          // Waiting less than asked would just be refused again; give up now instead.
          last = { outcome: { ...o, reason: `${o.reason}, Retry-After beyond cap` } };
          break;
        }
        delay = Math.max(delay, last.retryAfterMs);
      }
      await sleep(delay);
      if (signal?.aborted) {
        last = { outcome: { kind: 'failed', reason: 'aborted', retryable: false } };
        break;
      }
    }
    const outcome = withMetadata(service, last.outcome, log);
    const run: ServiceRun = {
      name: service.name,
      stage: service.stage,
      outcome,
      onFailure: service.on_failure,
      attempts,
      startedAt,
      finishedAt: now(),
    };
    if (outcome.kind === 'failed') {
      log.warn('service failed', { service: service.name, reason: outcome.reason, attempts, on_failure: service.on_failure });
    } else if (outcome.kind === 'rejected') {
      log.info('service rejected the sign-up', { service: service.name, pointers: outcome.errors.map((e) => e.pointer) });
    }
    return run;
  }

  /** Groups a stage's services into steps: adjacent concurrent ones form one step. */
  function stepsOf(stage: Stage): ServiceConfig[][] {
    const steps: ServiceConfig[][] = [];
    let previousConcurrent = false;
    for (const service of deps.services) {
      if (service.stage !== stage) continue;
      const current = steps.at(-1);
      if (service.concurrent && previousConcurrent && current) current.push(service);
      else steps.push([service]);
      previousConcurrent = service.concurrent;
    }
    return steps;
  }

  /** Whether a run undoes the stage: any problem in `before`, a problem under `rollback` in `after`. */
  function stops(run: ServiceRun): boolean {
    if (run.outcome.kind === 'ok') return false;
    return run.stage === 'before' || run.onFailure === 'rollback';
  }

  function verdictOf(runs: ServiceRun[]): StageVerdict {
    const stopping = runs.filter(stops);
    // A rejection wins over a failure in the same step: the user has something to fix.
    const rejected = stopping.filter((r) => r.outcome.kind === 'rejected');
    if (rejected.length > 0) {
      return {
        kind: 'rejected',
        services: rejected.map((r) => r.name),
        errors: rejected.flatMap((r) => (r.outcome.kind === 'rejected' ? r.outcome.errors : [])),
      };
    }
    if (stopping.length > 0) {
      const failures = stopping.map((r) => r.outcome).filter((o) => o.kind === 'failed');
      return {
        kind: 'failed',
        services: stopping.map((r) => r.name),
        reason: failures.map((o) => o.reason).join('; '),
        // Only worth a retry by the client when every failure looked transient.
        retryable: failures.every((o) => o.retryable === true),
      };
    }
    return { kind: 'proceed' };
  }

  return {
    async runStage(stage, ctx, meta) {
      const log = deps.logger.child({ request_id: meta.requestId, stage });
      const steps = stepsOf(stage);
      const outcomes: ServiceRun[] = [];
      const skipped: string[] = [];
      let verdict: StageVerdict = { kind: 'proceed' };
      for (const step of steps) {
        if (verdict.kind !== 'proceed' || meta.signal?.aborted) {
          skipped.push(...step.map((s) => s.name));
          continue;
        }
        // One concurrent group: all run at once and all finish, so the step takes as long
        // as its slowest service and every outcome is known.
        const runs = await Promise.all(step.map((s) => runOne(s, ctx, meta.idempotencyKey, log, meta.signal)));
        outcomes.push(...runs);
        verdict = verdictOf(runs);
      }
      const result: StageResult = { stage, verdict, outcomes, skipped, metadataPublic: {}, metadataAdmin: {}, reported: [], retryLater: [] };
      for (const run of outcomes) {
        const o = run.outcome;
        if (o.kind === 'ok') {
          Object.assign(result.metadataPublic, o.metadataPublic);
          Object.assign(result.metadataAdmin, o.metadataAdmin);
        } else if (stage === 'after' && !stops(run)) {
          if (run.onFailure === 'retry_later' && o.kind === 'failed') result.retryLater.push(run.name);
          else result.reported.push({ service: run.name, kind: o.kind, reason: o.kind === 'failed' ? o.reason : 'rejected' });
        }
      }
      if (skipped.length > 0) log.info('services skipped', { services: skipped });
      return result;
    },

    async runService(call) {
      const service = byName.get(call.serviceName);
      if (!service || service.stage !== call.stage) throw new Error(`no ${call.stage} service named "${call.serviceName}"`);
      const log = deps.logger.child({ request_id: call.requestId, stage: call.stage });
      return runOne(service, call.context, call.idempotencyKey, log);
    },
  };
}
