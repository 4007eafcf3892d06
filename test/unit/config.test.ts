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
