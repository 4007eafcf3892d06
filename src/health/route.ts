import { createRoute, z } from '@hono/zod-openapi';
import { createRouter } from '../shared/router.ts';

const Status = z.object({ status: z.enum(['ok', 'unavailable']) }).openapi('HealthStatus');

const alive = createRoute({
  method: 'get',
  path: '/health/alive',
  summary: 'Liveness: the process answers',
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: Status } } } },
});

const ready = createRoute({
  method: 'get',
  path: '/health/ready',
  summary: 'Readiness: the gateway and Kratos are ready',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: Status } } },
    503: { description: 'Kratos is not ready', content: { 'application/json': { schema: Status } } },
  },
});

export function healthRoutes() {
  return createRouter()
    .openapi(alive, (c) => c.json({ status: 'ok' as const }, 200))
    .openapi(ready, async (c) => {
      const ok = await c.get('gateway').kratos.isReady(c.get('requestId'));
      return ok ? c.json({ status: 'ok' as const }, 200) : c.json({ status: 'unavailable' as const }, 503);
    });
}
