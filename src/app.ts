import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { bodyProblem } from './body.ts';
import type { AppDeps, AppEnv } from './context.ts';
import { AppError, problemResponse } from './errors.ts';
import { originGuard } from './csrf.ts';
import { createMemoryIdempotencyStore, encryptingStore, type IdempotencyStore } from './idempotency/index.ts';
import { compileReturnToPolicy } from './return-to.ts';
import { createMemoryRetryQueue, runnerExecutor } from './services/retry-queue.ts';
import { createServiceRunner } from './services/runner.ts';
import { healthRoutes } from './routes/health.ts';
import { loginRoutes } from './routes/login.ts';
import { registrationRoutes } from './routes/registration.ts';
import { sessionRoutes } from './routes/session.ts';
import { createSessionCookies } from './session.ts';

export type { AppDeps, AppEnv } from './context.ts';

/**
 * The portable core: a Hono app built from its dependencies. Runtimes (src/runtime/) build
 * the dependencies once and serve this; tests build it with fakes.
 */
export function createApp(deps: AppDeps) {
  const { config, logger } = deps;
  const now = deps.now ?? Date.now;
  const cookies = createSessionCookies(config.secrets.session);
  const returnToPolicy = compileReturnToPolicy(config.return_to);
  const services = createServiceRunner({
    services: config.registration.services,
    ...(deps.serviceFunctions ? { functions: deps.serviceFunctions } : {}),
    transport: deps.transport,
    logger,
  });
  const retryQueue =
    deps.retryQueue ??
    createMemoryRetryQueue({
      execute: runnerExecutor(services),
      logger,
      maxAttempts: config.registration.retry_later.max_attempts,
      baseDelayMs: config.registration.retry_later.base_delay_ms,
      maxDelayMs: config.registration.retry_later.max_delay_ms,
    });
  // Stored replays can hold a session token, so the store only ever sees ciphertext. Without a
  // configured secret a random per-process key is fine: the default store is per-process too.
  let idempotency: Promise<IdempotencyStore> | undefined;
  const idempotencyStore = () =>
    (idempotency ??= encryptingStore(
      deps.idempotencyStore ?? createMemoryIdempotencyStore({ now, maxEntries: config.idempotency.max_entries }),
      config.idempotency.secret ?? randomSecret(),
    ));
  const app = new OpenAPIHono<AppEnv>();

  // Accepts a client-sent X-Request-Id only if it is short and plain (Hono's default check),
  // otherwise makes one; it is echoed back and forwarded to Kratos.
  app.use(requestId());
  app.use(async (c, next) => {
    const started = now();
    c.set('deps', deps);
    c.set('log', logger.child({ request_id: c.get('requestId') }));
    c.set('cookies', cookies);
    c.set('returnToPolicy', returnToPolicy);
    c.set('services', services);
    c.set('retryQueue', retryQueue);
    c.set('idempotency', idempotencyStore());
    await next();
    // No query string, bodies or headers in the access log: they can carry secrets.
    c.get('log').info('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: now() - started,
    });
  });
  // Under `server.base_path` (mounted with `app.route(base, gateway)`), a request outside it means
  // a mount that does not match the config: a 404, rather than cookies set for the wrong path.
  const base = config.server.base_path;
  if (base) app.use(async (c, next) => {
    if (c.req.path !== base && !c.req.path.startsWith(`${base}/`)) throw new AppError(404, 'NOT_FOUND');
    await next();
  });
  if (config.cors.allowed_origins.length > 0) {
    const allowed = new Set(config.cors.allowed_origins);
    app.use(
      cors({
        origin: (origin) => (allowed.has(origin) ? origin : null),
        credentials: true,
        allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
        allowHeaders: ['Content-Type', 'Authorization', 'X-Session-Token', 'X-Session-Delivery', 'Idempotency-Key', 'X-Request-Id'],
        exposeHeaders: ['X-Request-Id', 'Retry-After', 'Idempotent-Replayed'],
        maxAge: 600,
      }),
    );
  }
  app.use(originGuard(config.cors.allowed_origins));
  const maxBody = config.server.body_limit_bytes;
  const streamingLimit = bodyLimit({
    maxSize: maxBody,
    onError: () => {
      throw new AppError(413, 'PAYLOAD_TOO_LARGE');
    },
  });
  app.use(async (c, next) => {
    // Fast path from the headers alone: Hono's bodyLimit reads `c.req.raw.body`, which makes
    // @hono/node-server build a full Request for every call (measured as a hot spot in the
    // benchmark). Only a body without a trustworthy Content-Length needs the counting stream.
    // A body without Content-Length (chunked, HTTP/2, other runtimes) is counted as it streams.
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (!/^\d+$/.test(length) || Number(length) > maxBody) throw new AppError(413, 'PAYLOAD_TOO_LARGE');
      return next();
    }
    return streamingLimit(c, next);
  });

  app.route('/', healthRoutes());
  app.route('/', registrationRoutes(config));
  app.route('/', loginRoutes(config));
  app.route('/', sessionRoutes());

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'kratos-bff',
      version: '1',
      description: 'Sign-up and sign-in gateway for Ory Kratos. Errors are RFC 9457 application/problem+json.',
    },
    ...(base ? { servers: [{ url: base }] } : {}),
  });

  app.notFound((c) => problemResponse(c, new AppError(404, 'NOT_FOUND')));
  // Mounted in another app, the parent's notFound would answer for unknown gateway paths.
  app.all('*', (c) => problemResponse(c, new AppError(404, 'NOT_FOUND')));

  // The one error path: everything becomes application/problem+json.
  app.onError((err, c) => {
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
    return problemResponse(c, new AppError(500, 'INTERNAL_ERROR'));
  });

  return app;
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export type App = ReturnType<typeof createApp>;
