import type { Telemetry } from './telemetry.ts';

/**
 * One attempt at an external service in its own client span (an HTTP service's call carries
 * its `traceparent`), timed per service, stage and outcome. No URL, header or body is recorded:
 * a service's URL or headers may hold an API key.
 */
export function observeServiceAttempt<T extends { outcome: { kind: 'ok' | 'rejected' | 'failed' } }>(
  telemetry: Telemetry,
  service: { name: string; stage: string },
  attempt: number,
  run: () => Promise<T>,
): Promise<T> {
  const { metrics, tracing } = telemetry;
  if (!metrics.enabled && !tracing.enabled) return run();
  const attributes = { 'kratos_bff.service': service.name, 'kratos_bff.stage': service.stage, 'kratos_bff.attempt': attempt };
  return tracing.span(`service ${service.name}`, attributes, async (span) => {
    const started = performance.now();
    const result = await run();
    const outcome = result.outcome.kind;
    metrics.serviceCall(service.name, service.stage, outcome, (performance.now() - started) / 1000);
    span.setAttributes({ 'kratos_bff.outcome': outcome });
    if (outcome === 'failed') span.fail();
    return result;
  });
}
