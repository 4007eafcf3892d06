import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/runtime/node-config.ts';

// The shipped example must stay valid: `npm run dev` runs it.
describe('config/gateway.yaml', () => {
  it('parses with the defaults its env references fall back to', () => {
    const cfg = loadConfigFile('config/gateway.yaml', {});
    expect(cfg.kratos.public_url).toBe('http://127.0.0.1:4433');
    expect(cfg.registration.services.map((s) => [s.name, s.stage, s.on_failure])).toEqual([
      ['vat_check', 'before', 'abort'],
      ['crm_contact', 'after', 'rollback'],
      ['welcome_mail', 'after', 'retry_later'],
    ]);
    expect(Object.keys(cfg.registration.fields)).toEqual(['company', 'vat_id', 'accept_terms', 'plan', 'referral']);
    expect(cfg.secrets.session).toHaveLength(1);
    expect(cfg.docs.enabled).toBe(true);
    // Metrics and traces are off unless asked for.
    expect(cfg.metrics).toMatchObject({ enabled: false, host: '127.0.0.1', port: 9464, path: '/metrics' });
    expect(cfg.tracing).toMatchObject({ enabled: false, trust_incoming_traceparent: false });
    expect(cfg.tracing.otlp_endpoint).toBeUndefined();
  });

  it('turns metrics and traces on from the environment', () => {
    const cfg = loadConfigFile('config/gateway.yaml', { METRICS_ENABLED: 'true', TRACING_ENABLED: 'true' });
    expect(cfg.metrics.enabled).toBe(true);
    expect(cfg.tracing.enabled).toBe(true);
  });

  it('takes secrets and URLs from the environment', () => {
    const cfg = loadConfigFile('config/gateway.yaml', { VAT_API_KEY: 'from-env', STANDINS_URL: 'http://10.0.0.1:1', PORT: '9999' });
    expect(cfg.registration.services[0]!.http!.headers['x-api-key']).toBe('from-env');
    expect(cfg.registration.services[0]!.http!.url).toBe('http://10.0.0.1:1/vat/check');
    expect(cfg.server.port).toBe(9999);
  });
});

describe('config/gateway.redis.yaml', () => {
  it('loads with the Redis URL and the shared secret from the environment', () => {
    const cfg = loadConfigFile('config/gateway.redis.yaml', { IDEMPOTENCY_SECRET: 'k'.repeat(40), REDIS_URL: 'rediss://:pw@redis.internal:6380' });
    expect(cfg.state).toEqual({
      backend: 'redis',
      redis: { url: 'rediss://:pw@redis.internal:6380', key_prefix: 'kbff:', connect_timeout_ms: 2000, command_timeout_ms: 1000, workers: true },
    });
    expect(cfg.idempotency).toMatchObject({ secret: 'k'.repeat(40), lease_ms: 30_000 });
  });

  it('refuses to load without the shared idempotency secret, naming the key', () => {
    expect(() => loadConfigFile('config/gateway.redis.yaml', {})).toThrow(/idempotency\.secret: environment variable IDEMPOTENCY_SECRET is not set/);
  });
});
