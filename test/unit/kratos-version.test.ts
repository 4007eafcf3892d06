import { describe, expect, it } from 'vitest';
import { AppError, toProblem } from '../../src/errors.ts';
import { createKratosClient } from '../../src/kratos/client.ts';
import { flowErrors } from '../../src/kratos/messages.ts';
import { kratosSupports, parseVersion, requireKratosFeature } from '../../src/kratos/version.ts';
import { TransportError, type HttpRequest, type HttpResponse } from '../../src/shared/http.ts';
import { createLogger } from '../../src/shared/log.ts';

/** A Kratos client whose transport answers `/admin/version` from a script, recording calls. */
function gatewayWith(answers: Array<HttpResponse | 'down'>) {
  const calls: HttpRequest[] = [];
  const logs: string[] = [];
  const kratos = createKratosClient({
    publicUrl: 'http://kratos.test',
    adminUrl: 'http://kratos-admin.test',
    timeoutMs: 1000,
    identifierPointer: '/traits/email',
    transport: async (req) => {
      calls.push(req);
      const next = answers.shift() ?? 'down';
      if (next === 'down') throw new TransportError('connect ECONNREFUSED 10.0.0.1:4434', false);
      return next;
    },
  });
  return { gateway: { kratos, logger: createLogger({ level: 'debug', sink: (l) => logs.push(l) }) }, calls, logs };
}

const version = (v: string): HttpResponse => ({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: v }) });

async function problemOf(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return toProblem(err as AppError, 'req-1');
}

describe('requireKratosFeature', () => {
  it('refuses code login on Kratos v1.0.0 with 501 NOT_SUPPORTED_BY_KRATOS, naming the versions', async () => {
    const { gateway, calls } = gatewayWith([version('v1.0.0')]);
    const problem = await problemOf(requireKratosFeature(gateway, 'code_login', 'req-1'));
    expect(problem).toMatchObject({ status: 501, code: 'NOT_SUPPORTED_BY_KRATOS', title: 'Not Implemented', errors: [] });
    expect(problem.detail).toBe('This feature (code_login) needs Kratos v1.1.0 or later; the identity service is v1.0.0.');
    expect(calls.map((c) => `${c.method} ${c.origin}${c.path}`)).toEqual(['GET http://kratos-admin.test/admin/version']);
    expect(calls[0]!.headers['x-request-id']).toBe('req-1');
  });

  it('lets every feature through on Kratos v1.3.1, asking Kratos once for many calls', async () => {
    const { gateway, calls } = gatewayWith([version('v1.3.1')]);
    for (const feature of ['code_login', 'code_registration', 'native_recovery'] as const) {
      await expect(requireKratosFeature(gateway, feature)).resolves.toBeUndefined();
    }
    expect(calls).toHaveLength(1);
  });

  it('answers 503 KRATOS_UNAVAILABLE when Kratos cannot be asked, without upstream detail, and asks again next time', async () => {
    const { gateway, calls, logs } = gatewayWith(['down', version('v1.0.0')]);
    const problem = await problemOf(requireKratosFeature(gateway, 'native_recovery'));
    expect(problem).toMatchObject({ status: 503, code: 'KRATOS_UNAVAILABLE' });
    expect(JSON.stringify(problem)).not.toMatch(/ECONNREFUSED|10\.0\.0\.1/);
    expect(logs.join('\n')).toMatch(/kratos unavailable during the Kratos version check/);
    expect((await problemOf(requireKratosFeature(gateway, 'native_recovery'))).code).toBe('NOT_SUPPORTED_BY_KRATOS');
    expect(calls).toHaveLength(2);
  });

  it('answers 502 UPSTREAM_ERROR for an unexpected version answer', async () => {
    const { gateway } = gatewayWith([{ status: 404, headers: {}, body: '404 page not found' }]);
    expect((await problemOf(requireKratosFeature(gateway, 'code_registration'))).code).toBe('UPSTREAM_ERROR');
  });
});

describe('kratosSupports', () => {
  it.each([
    ['v1.0.0', false],
    ['1.0.0', false],
    ['v1.0.9', false],
    ['v1.1.0', true],
    ['v1.3.1', true],
    ['v25.4.0', true],
    ['master', true],
  ])('code_login on %s → %s', (v, expected) => {
    expect(kratosSupports(v, 'code_login')).toBe(expected);
  });

  it('parses release versions only', () => {
    expect(parseVersion('v1.3.1')).toEqual([1, 3, 1]);
    expect(parseVersion('v1.0.0-pre.2')).toEqual([1, 0, 0]);
    expect(parseVersion('master')).toBeUndefined();
  });
});

describe('Kratos v1.0.0 password policy messages (one id, 4000005, reason in the text)', () => {
  const node = (text: string) =>
    flowErrors(
      {
        action: '',
        method: 'POST',
        nodes: [{ type: 'input', group: 'password', attributes: { name: 'password', type: 'password', node_type: 'input', disabled: false }, messages: [{ id: 4000005, text, type: 'error' }], meta: {} }],
      },
      '/traits/email',
    );

  it.each([
    [
      'The password can not be used because password length must be at least 8 characters but only got 5.',
      { code: 'PASSWORD_TOO_SHORT', message: 'The password must be at least 8 characters long, but got 5.' },
    ],
    [
      'The password can not be used because the password is too similar to the user identifier.',
      { code: 'PASSWORD_TOO_SIMILAR', message: 'The password can not be used because it is too similar to the identifier.' },
    ],
    [
      'The password can not be used because the password has been found in data breaches and must no longer be used.',
      { code: 'PASSWORD_BREACHED', message: 'The password has been found in data breaches and must no longer be used.' },
    ],
  ])('maps %j to the code and wording v1.3.1 gives', (text, expected) => {
    expect(node(text)).toEqual([{ pointer: '/password', ...expected, kratos: { id: 4000005 } }]);
  });

  it('keeps any other reason as PASSWORD_POLICY without echoing it', () => {
    const [error] = node('The password can not be used because password length must be at least 8 characters but only got S3cr3t.');
    expect(error).toMatchObject({ code: 'PASSWORD_POLICY', message: 'The password does not meet the password policy.' });
  });
});
