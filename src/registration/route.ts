import { afterRateLimit, enforceRateLimit } from '../abuse/limit.ts';
import { afterJobPlan } from '../after-jobs/plan.ts';
import { resolveRedirect } from '../after-jobs/redirect.ts';
import type { AppContext } from '../app-env.ts';
import type { GatewayConfig } from '../config.ts';
import { withIdempotency, type SignUpAnswer } from '../idempotency/with-idempotency.ts';
import { acceptBody } from '../middleware/body.ts';
import { requestSignal } from '../middleware/request-context.ts';
import { chooseDelivery } from '../session/delivery.ts';
import { forwardedClient } from '../session/incoming.ts';
import type { ForwardedClient } from '../kratos/port.ts';
import { valueAtPointer } from '../shared/json-pointer.ts';
import { createRouter } from '../shared/router.ts';
import type { z } from '@hono/zod-openapi';
import { registrationContract } from './contract.ts';
import type { SignUpDeps } from './deps.ts';
import { coerceFormFields, toSubmission, type RegistrationBody } from './fields.ts';
import { signUp, type SignUpResult } from './sign-up.ts';
import { signUpAnswer, waitUntilOf } from './answer.ts';

/** `POST /v1/registration`: the HTTP side of a sign-up (the sign-up itself is `signUp`). */
export function registrationRoutes(config: GatewayConfig) {
  const fields = config.registration.fields;
  const plan = afterJobPlan(config.selfservice, 'registration');
  const { request, route } = registrationContract(config);

  /**
   * A sign-up's HTTP side. Not an async frame of its own (issue 16: frames waiting on upstream
   * calls are what a young-generation GC copies): the checks run at once, the sign-up is a
   * promise, and the abort state is disposed of when it settles.
   */
  function register(c: AppContext, body: RegistrationBody, idempotencyKey: string): Promise<SignUpAnswer> {
    const gateway = c.get('gateway');
    const log = c.get('log');
    // Everything that can refuse the request is checked before anything is called.
    const redirectTo = plan.redirect ? resolveRedirect(plan, c.req.url, gateway.returnToPolicy, log) : undefined;
    const delivery = chooseDelivery(c);
    const { metadata, ...submission } = toSubmission(body, fields);
    const start = (forwarded: ForwardedClient): Promise<SignUpAnswer> => {
      const { signal, dispose } = requestSignal(c);
      const client = Object.assign(forwarded, { signal });
      const deps: SignUpDeps = {
        kratos: gateway.kratos,
        services: gateway.services,
        retryQueue: gateway.retryQueue,
        log,
        now: gateway.now,
        requestId: c.get('requestId'),
        cookies: gateway.cookies,
        cookieConfig: config.session.cookie,
        plan,
        registration: config.registration,
        identifierPointer: config.kratos.identifier_pointer,
        onLeftBehind: gateway.onLeftBehind,
        metrics: gateway.telemetry.metrics,
        waitUntil: waitUntilOf(c),
      };
      let running: Promise<SignUpResult>;
      try {
        running = signUp(deps, { fields: body.fields ?? {}, submission, metadata, idempotencyKey, delivery, redirectTo, client });
      } catch (err) {
        dispose();
        return Promise.reject(err);
      }
      return running.then(
        (result) => {
          dispose();
          return signUpAnswer(c, result);
        },
        (err: unknown) => {
          dispose();
          throw err;
        },
      );
    };
    // The client's session cookie, if it sent one, is opened first (the only asynchronous check).
    const forwarded = forwardedClient(c);
    return forwarded instanceof Promise ? forwarded.then(start) : start(forwarded);
  }

  // Abuse resistance (src/abuse/): before the Idempotency-Key is claimed, so a 429 keeps nothing.
  const identifierOf = (body: RegistrationBody): string | undefined => {
    const value = valueAtPointer({ traits: body.traits }, config.kratos.identifier_pointer);
    return typeof value === 'string' ? value : undefined;
  };

  const router = createRouter();
  // Plain HTML form posts: same schema and rules, validated by the body adapter because the
  // OpenAPI route documents (and validates) the JSON body.
  router.post(
    '/v1/registration',
    acceptBody(
      request,
      (c, data) => afterRateLimit(enforceRateLimit(c, 'registration', identifierOf(data)), () => withIdempotency(c, data, (key) => register(c, data, key))),
      (form) => coerceFormFields(form, fields),
      route.request.headers as z.ZodObject,
    ),
  );
  return router.openapi(route, async (c) => {
    const data = c.req.valid('json');
    await enforceRateLimit(c, 'registration', identifierOf(data));
    return withIdempotency(c, data, (key) => register(c, data, key));
  });
}
