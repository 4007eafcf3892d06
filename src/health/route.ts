import { createRoute, z } from '@hono/zod-openapi';
import { noSecurity } from '../shared/openapi-schemas.ts';
import { createRouter } from '../shared/router.ts';

const CheckStatus = z.enum(['ok', 'unavailable']);
const Status = z.object({ status: CheckStatus }).openapi('HealthStatus');
const Readiness = z
  .object({
    status: CheckStatus,
    /** Each dependency: `kratos` always, `redis` with `state.backend: redis`. */
    checks: z.record(z.string(), CheckStatus),
  })
  .openapi('Readiness');

const alive = createRoute({
  method: 'get',
  path: '/health/alive',
  operationId: 'checkAlive',
  tags: ['Health'],
  security: noSecurity,
  summary: 'Liveness: the process answers',
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: Status } } } },
});

const ready = createRoute({
  method: 'get',
  path: '/health/ready',
  operationId: 'checkReady',
  tags: ['Health'],
  security: noSecurity,
  summary: 'Readiness: the gateway and what it depends on (Kratos, and Redis when configured) are ready',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: Readiness } } },
    503: { description: 'Kratos or Redis is not ready; `checks` names which', content: { 'application/json': { schema: Readiness } } },
  },
});

export function healthRoutes() {
  return createRouter()
    .openapi(alive, (c) => c.json({ status: 'ok' as const }, 200))
    .openapi(ready, async (c) => {
      const gateway = c.get('gateway');
      const probes: Array<[string, Promise<boolean>]> = [
        ['kratos', gateway.kratos.isReady(c.get('requestId'))],
        ...Object.entries(gateway.readiness).map(([name, probe]): [string, Promise<boolean>] => [name, probe().catch(() => false)]),
      ];
      const checks: Record<string, 'ok' | 'unavailable'> = {};
      for (const [name, probe] of probes) checks[name] = (await probe) ? 'ok' : 'unavailable';
      const ok = Object.values(checks).every((s) => s === 'ok');
      return ok ? c.json({ status: 'ok' as const, checks }, 200) : c.json({ status: 'unavailable' as const, checks }, 503);
    });
}
