import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, resolveEnvRefs } from '../../src/config.ts';

const minimal = { kratos: { public_url: 'http://127.0.0.1:4433/', admin_url: 'http://127.0.0.1:4434' } };

function problemsOf(input: unknown, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(input, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('fills defaults and normalises URLs', () => {
    const cfg = parseConfig(minimal);
    expect(cfg.kratos.public_url).toBe('http://127.0.0.1:4433');
    expect(cfg.server).toMatchObject({ host: '127.0.0.1', port: 8080, body_limit_bytes: 65536 });
    expect(cfg.kratos.timeout_ms).toBe(10_000);
    expect(cfg.registration.fields).toEqual({});
    expect(cfg.log.level).toBe('info');
  });

  it('names the key path of every problem', () => {
    expect(
      problemsOf({
        kratos: { public_url: 'ftp://x', admin_url: 'http://ok' },
        server: { port: 70000 },
        registration: { fields: { Bad: { type: 'string' }, vat: { type: 'string', pattern: '([' }, n: { type: 'number', min: 5, max: 1 } } },
        surprise: 1,
      }),
    ).toEqual(
      expect.arrayContaining([
        'kratos.public_url: must be an http(s) URL',
        expect.stringMatching(/^server\.port: /),
        expect.stringMatching(/^registration\.fields\.Bad: /),
        'registration.fields.vat.pattern: is not a valid regular expression',
        expect.stringMatching(/^\(root\): .*surprise/),
      ]),
    );
  });

  it('reports cross-field problems at their key', () => {
    expect(problemsOf({ ...minimal, registration: { fields: { n: { type: 'number', min: 5, max: 1 } } } })).toEqual(['registration.fields.n.min: is greater than max']);
  });

  it('defaults the slow-client limits to seconds, not minutes', () => {
    expect(parseConfig(minimal).server).toMatchObject({
      headers_timeout_ms: 10_000,
      request_timeout_ms: 20_000,
      keep_alive_timeout_ms: 5_000,
      max_header_bytes: 16_384,
    });
  });

  it('bounds the slow-client limits and names the key', () => {
    expect(
      problemsOf({ ...minimal, server: { headers_timeout_ms: 0, request_timeout_ms: 3_600_000, keep_alive_timeout_ms: 1.5, max_header_bytes: 100 } }),
    ).toEqual([
      expect.stringMatching(/^server\.headers_timeout_ms: .*100/),
      expect.stringMatching(/^server\.request_timeout_ms: .*300000/),
      expect.stringMatching(/^server\.keep_alive_timeout_ms: .*int/),
      expect.stringMatching(/^server\.max_header_bytes: .*1024/),
    ]);
    expect(problemsOf({ ...minimal, server: { headers_timeout_ms: 5000, request_timeout_ms: 4000 } })).toEqual([
      'server.headers_timeout_ms: must not be greater than server.request_timeout_ms',
    ]);
  });

  it('holds requests only while busy: 32 at once by default, 0 turns it off, and bad values name the key', () => {
    expect(parseConfig(minimal).server.concurrency_when_busy).toBe(32);
    expect(parseConfig({ ...minimal, server: { concurrency_when_busy: 0 } }).server.concurrency_when_busy).toBe(0);
    expect(problemsOf({ ...minimal, server: { concurrency_when_busy: -1 } })).toEqual([expect.stringMatching(/^server\.concurrency_when_busy: .*0/)]);
    expect(problemsOf({ ...minimal, server: { concurrency_when_busy: 2.5 } })).toEqual([expect.stringMatching(/^server\.concurrency_when_busy: .*int/)]);
  });

  it('requires the kratos section', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/^kratos: /)]);
  });

  it('resolves ${ENV} references, with defaults, and names unset ones', () => {
    const cfg = parseConfig({ kratos: { public_url: '${KP}', admin_url: '${KA:-http://127.0.0.1:4434}' } }, { KP: 'http://kratos:4433' });
    expect(cfg.kratos).toMatchObject({ public_url: 'http://kratos:4433', admin_url: 'http://127.0.0.1:4434' });
    expect(problemsOf({ kratos: { public_url: '${NOPE}', admin_url: 'http://x' } })).toEqual(['kratos.public_url: environment variable NOPE is not set']);
  });

  it('resolves references inside arrays with index paths', () => {
    const problems: string[] = [];
    expect(resolveEnvRefs({ a: ['x', '${MISSING}'] }, {}, problems)).toEqual({ a: ['x', ''] });
    expect(problems).toEqual(['a[1]: environment variable MISSING is not set']);
  });
});

describe('env references for scalars', () => {
  it('reads a whole-value reference to a number or boolean as that type', () => {
    expect(resolveEnvRefs({ port: '${PORT:-8080}', on: '${ON}', mixed: 'p${PORT}' }, { PORT: '9090', ON: 'true' })).toEqual({ port: 9090, on: true, mixed: 'p9090' });
  });
});

describe('state (shared state backend)', () => {
  const secret = 's'.repeat(32);
  it('defaults to memory, with no Redis', () => {
    const cfg = parseConfig(minimal);
    expect(cfg.state).toEqual({ backend: 'memory' });
    expect(cfg.idempotency.lease_ms).toBe(30_000);
  });

  it('accepts redis:// and rediss:// URLs with credentials from env, and fills in the defaults', () => {
    const cfg = parseConfig(
      { ...minimal, idempotency: { secret }, state: { backend: 'redis', redis: { url: '${REDIS_URL}' } } },
      { REDIS_URL: 'rediss://app:p%40ss@redis.internal:6380/2' },
    );
    expect(cfg.state.redis).toEqual({ url: 'rediss://app:p%40ss@redis.internal:6380/2', key_prefix: 'kbff:', connect_timeout_ms: 2000, command_timeout_ms: 1000, workers: true });
    expect(parseConfig({ ...minimal, idempotency: { secret }, state: { backend: 'redis', redis: { url: 'redis://127.0.0.1' } } }).state.backend).toBe('redis');
  });

  it('names state.redis.url when it is missing or not a Redis URL, without echoing it', () => {
    expect(problemsOf({ ...minimal, idempotency: { secret }, state: { backend: 'redis' } })).toEqual(['state.redis.url: is required when state.backend is redis']);
    const problems = problemsOf({ ...minimal, idempotency: { secret }, state: { backend: 'redis', redis: { url: 'http://user:hunter2@redis:6379' } } });
    expect(problems).toEqual([expect.stringMatching(/^state\.redis\.url: must be a redis:\/\/ or rediss:\/\/ URL/)]);
    expect(problems.join()).not.toContain('hunter2');
  });

  it('requires idempotency.secret with the redis backend (every instance must derive the same keys)', () => {
    expect(problemsOf({ ...minimal, state: { backend: 'redis', redis: { url: 'redis://127.0.0.1:6379' } } })).toEqual([
      'idempotency.secret: is required when state.backend is redis (every instance must use the same one)',
    ]);
  });

  it('rejects unknown keys and a lease under a second', () => {
    expect(problemsOf({ ...minimal, state: { backend: 'memcached' } })[0]).toMatch(/^state\.backend: /);
    expect(problemsOf({ ...minimal, state: { redis: { url: 'redis://x', tls: true } } })[0]).toMatch(/^state\.redis: /);
    expect(problemsOf({ ...minimal, idempotency: { lease_ms: 500 } })).toEqual(['idempotency.lease_ms: must be at least 1000 (one second)']);
  });
});
