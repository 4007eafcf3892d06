import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { createAbuseGuard } from './abuse/guard.ts';
import { createMemoryRateLimitStore } from './abuse/store.ts';
import { compileReturnToPolicy } from './after-jobs/return-to.ts';
import type { MiddlewareHandler, Next } from 'hono';
import type { AppContext, AppDeps, AppEnv, Gateway } from './app-env.ts';
import { ConfigError } from './config.ts';
import { serveOpenApiDocument } from './docs/openapi.ts';
import { docsRoutes } from './docs/route.ts';
import { AppError, problemResponse } from './errors.ts';
import { healthRoutes } from './health/route.ts';
import { encryptingStore } from './idempotency/encrypting-store.ts';
import { createMemoryIdempotencyStore, type IdempotencyStore } from './idempotency/store.ts';
import { loginCodeRoutes } from './login/code-route.ts';
import { loginRoutes } from './login/route.ts';
import { withTraceIds } from './observability/log-context.ts';
import { observeRequests } from './observability/middleware.ts';
import { noopTelemetry } from './observability/telemetry.ts';
import { bodyProblem } from './middleware/body.ts';
import { bodyLimit } from './middleware/body-limit.ts';
import { watchRequestSignal } from './middleware/request-context.ts';
import { originGuard } from './middleware/origin-guard.ts';
import { codeSignUpRoutes } from './registration/code-signup.ts';
import { registrationRoutes } from './registration/route.ts';
import { enrolmentRoutes } from './second-factor/enrolment.ts';
import { secondFactorRoutes } from './second-factor/route.ts';
import { createMemoryRetryQueue, runnerExecutor } from './services/retry-queue.ts';
import { createServiceRunner } from './services/runner.ts';
import { createSessionCookies } from './session/cookie.ts';
import { sessionRoutes } from './session/route.ts';
import { settingsRoutes } from './settings/route.ts';
import { recoveryRoutes } from './recovery/route.ts';
import type { RequestAbort } from './shared/abort.ts';
import { randomSecret } from './shared/crypto.ts';
import { carriesItsRequestId, setHeader } from './shared/response.ts';
import { verificationRoutes } from './verification/route.ts';

export type { AppDeps, AppEnv } from './app-env.ts';

/** Hono's CORS middleware for the configured origins, or undefined when none are listed. */
function corsFor(origins: readonly string[]): MiddlewareHandler | undefined {
  if (origins.length === 0) return undefined;
  const allowed = new Set(origins);
  return cors({
    origin: (origin) => (allowed.has(origin) ? origin : null),
    credentials: true,
    allowMethods: ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
    allowHeaders: ['Content-Type', 'Authorization', 'X-Session-Token', 'X-Session-Delivery', 'Idempotency-Key', 'X-Request-Id'],
    exposeHeaders: ['X-Request-Id', 'Retry-After', 'Idempotent-Replayed', 'RateLimit', 'RateLimit-Policy'],
    maxAge: 600,
  });
}

/** Fills in every default of `deps`, once: the rest of the code never sees an optional dependency. */
function resolveGateway(deps: AppDeps): Gateway {
  const { config } = deps;
  const telemetry = deps.telemetry ?? noopTelemetry;
  // Every line written inside a request's span carries its trace id.
  const logger = withTraceIds(deps.logger, telemetry.tracing);
  // Falling back to per-process memory would silently drop the cross-instance guarantee.
  if (config.state.backend === 'redis' && !deps.idempotencyStore) {
    throw new ConfigError([
      'state.backend: redis needs a Redis store: startNodeGateway (and the kratos-bff bin) build it; when mounting the gateway yourself, pass idempotencyStore: createRedisIdempotencyStore(...) (kratos-bff/node: connectRedis)',
    ]);
  }
  // Abuse resistance: per-process counters would let each instance grant the full limit.
  if (config.state.backend === 'redis' && config.abuse.enabled && !deps.rateLimitStore) {
    throw new ConfigError([
      'state.backend: redis needs a Redis rate-limit store: startNodeGateway builds it; when mounting the gateway yourself, pass rateLimitStore: createRedisRateLimitStore(...) (or set abuse.enabled: false)',
    ]);
  }
  const now = deps.now ?? Date.now;
  const services = createServiceRunner({
    services: config.registration.services,
    ...(deps.serviceFunctions ? { functions: deps.serviceFunctions } : {}),
    transport: deps.transport,
    logger,
    telemetry,
  });
  const retryQueue =
    deps.retryQueue ??
    createMemoryRetryQueue({
      execute: runnerExecutor(services),
      logger,
      maxAttempts: config.registration.retry_later.max_attempts,
      baseDelayMs: config.registration.retry_later.base_delay_ms,
      maxDelayMs: config.registration.retry_later.max_delay_ms,
      onGiveUp: (job) => telemetry.metrics.retryGaveUp(job.service),
    });
  if (!deps.retryQueue) {
    const memoryQueue = retryQueue as ReturnType<typeof createMemoryRetryQueue>;
    telemetry.metrics.watchRetryQueue(() => ({ pending: memoryQueue.pending() }));
  }
  // Stored replays can hold a session token, so the store only ever sees ciphertext. Without a
  // configured secret a random per-process key is fine: the default store is per-process too.
  let idempotency: Promise<IdempotencyStore> | undefined;
  const peerAddress = deps.peerAddress;
  const onLeftBehind = deps.onLeftBehind;
  // One listener on the shutdown signal for all requests, rather than one per request.
  const inFlight = new Set<RequestAbort>();
  deps.shutdownSignal?.addEventListener(
    'abort',
    () => {
      for (const state of inFlight) state.abort();
    },
    { once: true },
  );
  return {
    config,
    kratos: deps.kratos,
    logger,
    now,
    peerAddress: peerAddress ?? (() => undefined),
    services,
    retryQueue,
    readiness: deps.readiness ?? {},
    idempotency: () =>
      (idempotency ??= encryptingStore(
        deps.idempotencyStore ?? createMemoryIdempotencyStore({ now, maxEntries: config.idempotency.max_entries }),
        config.idempotency.secret ?? randomSecret(),
      )),
    cookies: createSessionCookies(config.secrets.session),
    returnToPolicy: compileReturnToPolicy(config.return_to),
    abuse: createAbuseGuard({
      config: config.abuse,
      store: deps.rateLimitStore ?? createMemoryRateLimitStore({ now }),
      trustedProxies: config.server.trusted_proxies,
      // Not random per process: isolates and instances sharing a store must derive the same keys.
      secret: config.idempotency.secret ?? '',
    }),
    shutdownSignal: deps.shutdownSignal,
    inFlight,
    watchClient: deps.watchClient ?? watchRequestSignal,
    setResponseHeader: deps.setResponseHeader ?? ((c, name, value) => setHeader(c, name, value)),
    onLeftBehind: onLeftBehind ? (id) => onLeftBehind(id) : () => {},
    telemetry,
  };
}

/**
 * The portable core: a Hono app built from its dependencies. Runtimes (src/runtime/) build
 * the dependencies once and serve this; tests build it with fakes.
 */
export function createApp(deps: AppDeps) {
  const gateway = resolveGateway(deps);
  const { config, logger, now } = gateway;
  const app = new OpenAPIHono<AppEnv>();

  if (gateway.telemetry.metrics.enabled || gateway.telemetry.tracing.enabled) app.use(observeRequests(gateway.telemetry));
  // Under `server.base_path` (mounted with `app.route(base, gateway)`), a request outside it means
  // a mount that does not match the config: a 404, rather than cookies set for the wrong path.
  const base = config.server.base_path;
  const checkOrigin = originGuard(config.cors.allowed_origins, config.session.cookie);
  const limitBody = bodyLimit(config.server.body_limit_bytes);
  const cors = corsFor(config.cors.allowed_origins);
  const { setResponseHeader } = gateway;
  /**
   * Inside CORS (a preflight is answered there), so that CORS headers reach a refusal too: the
   * origin guard and the body limit, then the routes.
   */
  const admitted = async (c: AppContext, next: Next): Promise<void> => {
    try {
      checkOrigin(c);
      if (limitBody.fits(c)) await next();
      else {
        const res = await limitBody.counted(c, next);
        if (res instanceof Response) c.res = res;
      }
    } catch (err) {
      c.res = errorResponse(c, err);
    }
  };
  // The front door, one middleware (issue 16: each layer costs a promise and a frame per
  // request): request id, request context, the access log, base path, CORS, origin guard and
  // body limit. No async frame of its own either: what follows the routes runs in a `then`.
  app.use((c, next) => {
    const started = now();
    // A client-sent X-Request-Id is kept only if it is short and plain (Hono's requestId rules),
    // otherwise one is made; it is echoed back and forwarded to Kratos and services.
    const sent = c.req.header('x-request-id');
    const id = sent === undefined || sent === '' || sent.length > 255 || /[^\w\-=]/.test(sent) ? crypto.randomUUID() : sent;
    c.set('requestId', id);
    c.set('gateway', gateway);
    const log = logger.child({ request_id: id });
    c.set('log', log);
    const done = () => {
      // Every answer carries the request id; the gateway's JSON answers have it already.
      if (!carriesItsRequestId(c.res)) setResponseHeader(c, 'X-Request-Id', id);
      // No query string, bodies or headers in the access log: they can carry secrets.
      if (log.enabled?.('info') !== false) {
        log.info('request', {
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          duration_ms: now() - started,
        });
      }
    };
    // The base path's 404, the origin guard's and the body limit's refusals (the routes' errors
    // are answered by onError inside `next`).
    const refused = (err: unknown) => {
      c.res = errorResponse(c, err);
      done();
    };
    let routed: Promise<unknown>;
    try {
      if (base && c.req.path !== base && !c.req.path.startsWith(`${base}/`)) throw new AppError('NOT_FOUND');
      if (cors) {
        // A preflight is answered by CORS itself; what a middleware returns is the response.
        routed = cors(c, () => admitted(c, next)).then((res) => {
          if (res instanceof Response) c.res = res;
        });
      } else {
        // `admitted` inline: its refusals are answered by `refused`, as they are there.
        checkOrigin(c);
        routed = limitBody.fits(c)
          ? next()
          : limitBody.counted(c, next).then((res) => {
              if (res instanceof Response) c.res = res;
            });
      }
    } catch (err) {
      refused(err);
      return Promise.resolve();
    }
    return routed.then(done, refused);
  });

  app.route('/', healthRoutes());
  app.route('/', registrationRoutes(config));
  app.route('/', loginRoutes(config));
  app.route('/', sessionRoutes(config.session.cookie));
  app.route('/', settingsRoutes());
  app.route('/', recoveryRoutes(config));
  app.route('/', verificationRoutes(config));
  // second factor and passwordless code (issue 14)
  app.route('/', secondFactorRoutes(config));
  app.route('/', loginCodeRoutes(config));
  app.route('/', enrolmentRoutes(config));
  app.route('/', codeSignUpRoutes(config));

  if (config.docs.enabled) app.route('/', docsRoutes(base, deps.docsAssets));
  serveOpenApiDocument(app, config);

  app.notFound((c) => problemResponse(c, new AppError('NOT_FOUND')));
  // Mounted in another app, the parent's notFound would answer for unknown gateway paths.
  app.all('*', (c) => problemResponse(c, new AppError('NOT_FOUND')));

  // The one error path: everything becomes application/problem+json.
  function errorResponse(c: AppContext, err: unknown): Response {
    if (err instanceof AppError) {
      if (err.status >= 500) c.get('log')?.warn('request failed', { code: err.code, status: err.status });
      return problemResponse(c, err);
    }
    if (err instanceof HTTPException) {
      // Raised by Hono's validator (unparseable JSON) and zod-openapi's media-type gate.
      const mapped = bodyProblem(c, err);
      if (mapped) return problemResponse(c, mapped);
    }
    (c.get('log') ?? logger).error('unhandled error', { error: err });
    return problemResponse(c, new AppError('INTERNAL_ERROR'));
  }
  app.onError((err, c) => errorResponse(c, err));

  return app;
}

export type App = ReturnType<typeof createApp>;
