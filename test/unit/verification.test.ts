import { describe, expect, it } from 'vitest';
import { parseConfig, ConfigError } from '../../src/config.ts';
import { AppError } from '../../src/errors.ts';
import { nativeFlows } from '../../src/kratos/flows.ts';
import type { GetFlowResult, KratosPort, VerificationResult } from '../../src/kratos/port.ts';
import { createLogger } from '../../src/shared/log.ts';
import { verifyCode } from '../../src/verification/verify.ts';
import { appWithFakeKratos, json } from '../support/app.ts';

/**
 * Verification's mapping of Kratos answers (bodies as the real Kratos v1.3.1 sent them in the
 * probe recorded in the issue-13 report; kratos-facts-2 §1.3), its error codes, and the config
 * rules of enumeration-safe sign-up. The end-to-end behaviour is test/integration/verification.test.ts.
 */

const map = (status: number, body: unknown) => nativeFlows.verification.mapAnswer({ kind: 'answer', status, body: body as never }, '/traits/email');
const FLOW = 'c488f71e-b7f9-4451-8e55-c9f1bc9f3f6c';

describe('verification answers → results', () => {
  it('a wrong code is 200 with 4070006: a field error at /code, without the code', () => {
    const result = map(200, {
      id: FLOW,
      state: 'sent_email',
      ui: { messages: [{ id: 4070006, type: 'error', text: 'The verification code is invalid or has already been used. Please try again.' }], nodes: [] },
    });
    expect(result).toEqual({ kind: 'invalid', errors: [{ pointer: '/code', code: 'CODE_INVALID', message: 'The code is wrong or has already been used.', kratos: { id: 4070006 } }] });
  });

  it('sent, verified, and the 303 / 410 answers', () => {
    expect(map(200, { id: FLOW, state: 'sent_email', ui: { messages: [{ id: 1080003, type: 'info', text: 'sent' }], nodes: [] } })).toEqual({ kind: 'sent', flowId: FLOW });
    expect(map(200, { id: FLOW, state: 'passed_challenge', ui: { method: 'GET', action: 'http://127.0.0.1:3000/', messages: [{ id: 1080002, type: 'success' }], nodes: [] } })).toEqual({
      kind: 'verified',
      continueUrl: 'http://127.0.0.1:3000/',
    });
    expect(map(303, undefined)).toEqual({ kind: 'expired' });
    expect(map(410, { error: { id: 'self_service_flow_expired', code: 410 }, use_flow_id: 'n' })).toEqual({ kind: 'code_expired' });
    expect(map(410, { error: { id: 'self_service_flow_replaced', code: 410 }, use_flow_id: 'n' })).toEqual({ kind: 'replaced', newFlowId: 'n' });
    expect(map(400, { error: { code: 400, reason: 'The flow query parameter is missing or malformed.' } })).toEqual({ kind: 'expired' });
    expect(map(404, { error: { code: 404 } })).toEqual({ kind: 'expired' });
    expect(map(502, undefined).kind).toBe('unavailable');
  });

  it('the payload: code wins, method always code', () => {
    expect(nativeFlows.verification.payload({ code: '123456' })).toEqual({ method: 'code', code: '123456' });
    expect(nativeFlows.verification.payload({ email: 'a@b.c' })).toEqual({ method: 'code', email: 'a@b.c' });
  });
});

describe('a replaced flow: why, from the replacement flow\'s messages', () => {
  const port = (submit: VerificationResult, replacement: GetFlowResult): KratosPort =>
    ({ submitFlow: async () => submit, getFlow: async () => replacement }) as unknown as KratosPort;
  const deps = (k: KratosPort) => ({ kratos: k, log: createLogger({ level: 'error', sink: () => {} }) });
  const codeOf = async (k: KratosPort) => {
    try {
      await verifyCode(deps(k), { flowId: FLOW, code: '123456', client: { requestId: 'r' } });
      return 'ok';
    } catch (err) {
      return err instanceof AppError ? `${err.status} ${err.code}` : String(err);
    }
  };
  it.each([
    [4000001, '410 CODE_ATTEMPTS_EXCEEDED'],
    [4070002, '410 VERIFICATION_ALREADY_DONE'],
    [4070005, '410 CODE_EXPIRED'],
    [4070003, '410 VERIFICATION_FLOW_EXPIRED'],
  ])('message %i → %s', async (id, expected) => {
    expect(await codeOf(port({ kind: 'replaced', newFlowId: 'n' }, { kind: 'ok', messageIds: [id] }))).toBe(expected);
  });
  it('expired and code-expired answers have their own codes', async () => {
    expect(await codeOf(port({ kind: 'expired' }, { kind: 'not_found' }))).toBe('410 VERIFICATION_FLOW_EXPIRED');
    expect(await codeOf(port({ kind: 'code_expired' }, { kind: 'not_found' }))).toBe('410 CODE_EXPIRED');
    expect(await codeOf(port({ kind: 'verified' }, { kind: 'not_found' }))).toBe('ok');
  });
});

describe('routes on the fake Kratos', () => {
  it('refuse unknown properties and a malformed email before any Kratos call', async () => {
    const { app, fake } = appWithFakeKratos();
    const res = await app.request('/v1/verification', json({ email: 'not-an-email', role: 'admin' }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; errors: Array<{ pointer: string; code: string }> };
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.errors.map((e) => e.code).sort()).toEqual(['INVALID_EMAIL', 'UNKNOWN_FIELD']);
    expect(fake.requests).toHaveLength(0);
  });
  it('are in the OpenAPI document with their operationIds', async () => {
    const { app } = appWithFakeKratos();
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, { post?: { operationId?: string } }> };
    expect(doc.paths['/v1/verification']?.post?.operationId).toBe('startVerification');
    expect(doc.paths['/v1/verification/code']?.post?.operationId).toBe('verifyEmail');
  });
});

describe('registration.enumeration_safe config', () => {
  const base = { kratos: { public_url: 'http://k', admin_url: 'http://a' } };
  it('is off by default', () => {
    expect(parseConfig(base).registration.enumeration_safe).toBe(false);
  });
  it('is refused with the session after-job, including the default [session]', () => {
    for (const selfservice of [{}, { registration: { after: { password: [{ job: 'session' as const }] } } }]) {
      let error: unknown;
      try {
        parseConfig({ ...base, registration: { enumeration_safe: true }, selfservice });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect(String((error as Error).message)).toMatch(/registration\.enumeration_safe.*proves the account is new/s);
    }
  });
  it('is accepted without a session job; existing_account services only continue', () => {
    const cfg = parseConfig({
      ...base,
      registration: { enumeration_safe: true, services: [{ name: 'tell_owner', stage: 'existing_account', http: { url: 'https://mail.example/notify' } }] },
      selfservice: { registration: { after: { password: [] } } },
    });
    expect(cfg.registration.services[0]?.on_failure).toBe('continue');
    expect(() =>
      parseConfig({ ...base, registration: { services: [{ name: 'x', stage: 'existing_account', on_failure: 'rollback', http: { url: 'https://x.example/' } }] } }),
    ).toThrow(/existing_account service can only continue/);
    expect(() =>
      parseConfig({ ...base, registration: { services: [{ name: 'x', stage: 'existing_account', http: { url: 'https://x.example/', body: { id: '{{identity.id}}' } } }] } }),
    ).toThrow(/existing_account stage does not read the existing identity/);
  });
  it('the verification redirect after-job, in Kratos\'s shape or as a job list', () => {
    const a = parseConfig({ ...base, selfservice: { verification: { after: { default_browser_return_url: 'https://app.example/verified' } } } });
    expect(a.selfservice.verification.after).toEqual([{ job: 'redirect', config: { redirect_to: 'https://app.example/verified', allow_user_defined: false } }]);
    expect(() => parseConfig({ ...base, selfservice: { verification: { after: [{ job: 'session' }] } } } as never)).toThrow(ConfigError);
  });
});
