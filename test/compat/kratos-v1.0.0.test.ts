import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKratosClient } from '../../src/kratos/client.ts';
import { requireKratosFeature, type KratosFeature } from '../../src/kratos/version.ts';
import { AppError } from '../../src/errors.ts';
import { fetchTransport } from '../../src/shared/http.ts';
import { createLogger } from '../../src/shared/log.ts';
import { postJson, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';
import { suiteKratosVersion } from '../support/kratos-version.ts';

/**
 * What only Kratos v1.0.0 shows, asserted against the real v1.0.0 of the compat-v1.0.0
 * project: the features it lacks are refused by the gateway (NOT_SUPPORTED_BY_KRATOS) and are
 * shown absent in Kratos itself; the answers that differ from v1.3.1 still reach the client
 * with v1.3.1's stable codes. The shared behaviour runs in the integration files this project
 * includes (see vitest.config.ts).
 */

const PASSWORD = 'correct-horse-battery-staple';
const kratos = inject('kratos');

const json = { accept: 'application/json', 'content-type': 'application/json' };

async function kratosJson(path: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${kratos.publicUrl}${path}`, { redirect: 'manual', ...init, headers: { ...json, ...init.headers } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

describe('the suite runs against Kratos v1.0.0', () => {
  it('Kratos reports v1.0.0 on the admin port (public /version is 404 in both versions)', async () => {
    expect(await suiteKratosVersion()).toBe('v1.0.0');
    expect((await fetch(`${kratos.publicUrl}/version`)).status).toBe(404);
  });
});

describe('features v1.0.0 lacks: refused by the gateway, absent in Kratos', () => {
  const gateway = () => ({
    kratos: createKratosClient({ publicUrl: kratos.publicUrl, adminUrl: kratos.adminUrl, transport: fetchTransport((u, i) => fetch(u, i)), timeoutMs: 5000, identifierPointer: '/traits/email' }),
    logger: createLogger({ level: 'error', sink: () => {} }),
  });

  it.each<KratosFeature>(['code_login', 'code_registration', 'native_recovery'])('requireKratosFeature(%s) throws 501 NOT_SUPPORTED_BY_KRATOS', async (feature) => {
    const err = await requireKratosFeature(gateway(), feature, 'compat-1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'NOT_SUPPORTED_BY_KRATOS', status: 501 });
  });

  it('Kratos v1.0.0 has no passwordless code login: method "code" → 400 with 4010002 (no strategy)', async () => {
    const flow = await kratosJson('/self-service/login/api');
    expect(flow.status).toBe(200);
    const res = await kratosJson(`/self-service/login?flow=${flow.body.id}`, { method: 'POST', body: JSON.stringify({ method: 'code', identifier: uniqueEmail('code') }) });
    expect(res.status).toBe(400);
    expect(res.body.ui.messages.map((m: { id: number }) => m.id)).toEqual([4010002]);
  });

  it('Kratos v1.0.0 has no code registration: method "code" → 400 with 4010003 (no strategy)', async () => {
    const flow = await kratosJson('/self-service/registration/api');
    const res = await kratosJson(`/self-service/registration?flow=${flow.body.id}`, { method: 'POST', body: JSON.stringify({ method: 'code', traits: { email: uniqueEmail('code') } }) });
    expect(res.status).toBe(400);
    expect(res.body.ui.messages.map((m: { id: number }) => m.id)).toEqual([4010003]);
  });

  it('Kratos v1.0.0 has no native recovery: a correct code answers 422 browser_location_change_required with a cookie, no token', async () => {
    const email = uniqueEmail('recover');
    expect((await postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD })).status).toBe(200);
    const flow = await kratosJson('/self-service/recovery/api');
    expect(flow.status).toBe(200);
    const sent = await kratosJson(`/self-service/recovery?flow=${flow.body.id}`, { method: 'POST', body: JSON.stringify({ method: 'code', email }) });
    expect(sent.status).toBe(200);
    expect(sent.body.state).toBe('sent_email');
    const mails = (await (await fetch(`${kratos.adminUrl}/admin/courier/messages?recipient=${encodeURIComponent(email)}`)).json()) as Array<{ body: string; template_type: string }>;
    const mail = mails.find((m) => m.template_type === 'recovery_code_valid');
    const code = /(\d{6})/.exec(mail?.body ?? '')?.[1];
    expect(code).toMatch(/^\d{6}$/);
    const done = await kratosJson(`/self-service/recovery?flow=${flow.body.id}`, { method: 'POST', body: JSON.stringify({ method: 'code', code }) });
    expect(done.status).toBe(422);
    expect(done.body.error.id).toBe('browser_location_change_required');
    expect(done.headers.getSetCookie().some((c) => c.startsWith('ory_kratos_session='))).toBe(true);
    expect(JSON.stringify(done.body)).not.toMatch(/ory_st_|session_token|continue_with/);
  });
});

describe('answers that differ from v1.3.1', () => {
  it('login and registration flows have no `state`; a login answer has no `continue_with`', async () => {
    const reg = await kratosJson('/self-service/registration/api');
    expect(reg.body).not.toHaveProperty('state');
    const login = await kratosJson('/self-service/login/api');
    expect(login.body).not.toHaveProperty('state');
    const email = uniqueEmail('nocw');
    expect((await postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD })).status).toBe(200);
    const ok = await kratosJson(`/self-service/login?flow=${login.body.id}`, { method: 'POST', body: JSON.stringify({ method: 'password', identifier: email, password: PASSWORD }) });
    expect(ok.status).toBe(200);
    expect(ok.body.session_token).toMatch(/^ory_st_/);
    expect(ok.body).not.toHaveProperty('continue_with');
  });

  it('password policy failures are all 4000005; the gateway gives them v1.3.1 codes and wording', async () => {
    const short = await postJson(`${gw.url}/v1/registration`, { traits: { email: uniqueEmail('short') }, password: 'short' });
    expect(short.status).toBe(400);
    expect(short.body.errors).toEqual([
      { pointer: '/password', code: 'PASSWORD_TOO_SHORT', message: 'The password must be at least 8 characters long, but got 5.', kratos: { id: 4000005 } },
    ]);
    const email = uniqueEmail('similar');
    const similar = await postJson(`${gw.url}/v1/registration`, { traits: { email }, password: `${email}1` });
    expect(similar.status).toBe(400);
    expect(similar.body.errors).toEqual([
      { pointer: '/password', code: 'PASSWORD_TOO_SIMILAR', message: 'The password can not be used because it is too similar to the identifier.', kratos: { id: 4000005 } },
    ]);
  });
});

describe('the gateway refuses what v1.0.0 lacks before Kratos does anything (501 NOT_SUPPORTED_BY_KRATOS)', () => {
  async function courierCount(email: string): Promise<number> {
    const res = await fetch(`${kratos.adminUrl}/admin/courier/messages?recipient=${encodeURIComponent(email)}`);
    return ((await res.json()) as unknown[]).length;
  }
  const routes: Array<[string, (email: string) => unknown]> = [
    ['/v1/login/code', (email) => ({ identifier: email })],
    ['/v1/login/code/verify', () => ({ handle: 'h1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAA', code: '123456' })],
    ['/v1/registration/code', (email) => ({ traits: { email } })],
    ['/v1/registration/code/verify', () => ({ handle: 'h1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAA', code: '123456' })],
    ['/v1/recovery', (email) => ({ email })],
    ['/v1/recovery/code', () => ({ flow: '0b2b6d4e-3c55-4d7e-9c1d-4a0f4a3b9e21', code: '123456', password: PASSWORD })],
  ];

  it.each(routes)('POST %s answers 501 NOT_SUPPORTED_BY_KRATOS and no email is sent', async (path, body) => {
    // An existing account: the send routes would mail it if they reached Kratos.
    const email = uniqueEmail('v100gate');
    expect((await postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD })).status).toBe(200);
    const before = await courierCount(email);
    const res = await postJson(`${gw.url}${path}`, body(email));
    expect(res.status).toBe(501);
    expect(res.body).toMatchObject({ status: 501, code: 'NOT_SUPPORTED_BY_KRATOS' });
    expect(res.body.detail).toMatch(/needs Kratos v1\.1\.0 or later; the identity service is v1\.0\.0/);
    expect(await courierCount(email)).toBe(before);
  });
});
