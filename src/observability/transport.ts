import { TransportError, type HttpTransport } from '../shared/http.ts';
import { statusOutcome, type CallOutcome, type Telemetry } from './telemetry.ts';

/**
 * Kratos's endpoint as a template: no query (an identifier search carries an email), and ids in
 * the path replaced, e.g. `DELETE /admin/identities/{id}`.
 */
export function kratosEndpoint(method: string, path: string): string {
  const q = path.indexOf('?');
  const bare = q === -1 ? path : path.slice(0, q);
  const segments = bare.split('/').map((s, i, all) => (all[i - 1] === 'identities' || (all[i - 1] === 'sessions' && s !== 'whoami') ? '{id}' : s));
  return `${method} ${segments.join('/')}`;
}

/**
 * Wraps the upstream transport: every call carries the current `traceparent`; calls to Kratos
 * (its public and admin origins) get a client span and a latency sample per endpoint and outcome.
 * External services get their spans and metrics per attempt in the service runner, so the
 * header sent to them names that span as the parent.
 */
export function instrumentTransport(transport: HttpTransport, telemetry: Telemetry, kratosOrigins: readonly string[]): HttpTransport {
  const { metrics, tracing } = telemetry;
  if (!metrics.enabled && !tracing.enabled) return transport;
  const kratos = new Set(kratosOrigins);
  return async (req) => {
    if (!kratos.has(req.origin)) {
      if (!tracing.enabled) return transport(req);
      const headers = { ...req.headers };
      tracing.inject(headers);
      return transport({ ...req, headers });
    }
    const endpoint = kratosEndpoint(req.method, req.path);
    return tracing.span(`kratos ${endpoint}`, { 'http.request.method': req.method, 'url.template': endpoint.slice(endpoint.indexOf(' ') + 1), 'peer.service': 'kratos' }, async (span) => {
      let out = req;
      if (tracing.enabled) {
        const headers = { ...req.headers };
        tracing.inject(headers);
        out = { ...req, headers };
      }
      const started = performance.now();
      let outcome: CallOutcome = 'error';
      try {
        const res = await transport(out);
        outcome = statusOutcome(res.status);
        span.setAttributes({ 'http.response.status_code': res.status });
        if (res.status >= 500) span.fail();
        return res;
      } catch (err) {
        if (err instanceof TransportError && err.timedOut) outcome = 'timeout';
        span.fail();
        throw err;
      } finally {
        metrics.kratosCall(endpoint, outcome, (performance.now() - started) / 1000);
      }
    });
  };
}
