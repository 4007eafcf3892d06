import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKratos, type KratosInstance } from '../../scripts/kratos.ts';
import { latestCode } from '../support/courier.ts';
import { postJson, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';

/**
 * Expiry of verification codes and flows against real Kratos processes with short lifespans:
 * a code past `selfservice.methods.code.config.lifespan`, and a flow past
 * `selfservice.flows.verification.lifespan` (Kratos answers that with a 303 to a *browser*
 * replacement flow, which the gateway must not pass on).
 */

const PASSWORD = 'correct-horse-battery-staple';
const TEMPLATE = 'verification_code_valid';
const LIFESPAN_MS = 1000;

let shortCode: KratosInstance;
let shortFlow: KratosInstance;
let codeGw: TestGateway;
let flowGw: TestGateway;
beforeAll(async () => {
  const log = (l: string) => console.error(l);
  [shortCode, shortFlow] = await Promise.all([
    startKratos({ env: { SELFSERVICE_METHODS_CODE_CONFIG_LIFESPAN: `${LIFESPAN_MS / 1000}s` }, log }),
    startKratos({ env: { SELFSERVICE_FLOWS_VERIFICATION_LIFESPAN: `${LIFESPAN_MS / 1000}s` }, log }),
  ]);
  const config = (k: KratosInstance) => ({ kratos: { public_url: k.publicUrl, admin_url: k.adminUrl }, verification: { min_answer_ms: 0 } });
  [codeGw, flowGw] = await Promise.all([startTestGateway({ config: config(shortCode) }), startTestGateway({ config: config(shortFlow) })]);
}, 120_000);
afterAll(async () => {
  await Promise.all([codeGw?.close(), flowGw?.close()]);
  await Promise.all([shortCode?.stop(), shortFlow?.stop()]);
});

async function sendCode(g: TestGateway, k: KratosInstance) {
  const email = uniqueEmail('expiry');
  // An account, so that a code is mailed.
  expect((await postJson(`${g.url}/v1/registration`, { traits: { email }, password: PASSWORD })).status).toBe(200);
  const sent = await postJson(`${g.url}/v1/verification`, { email });
  expect(sent.status).toBe(200);
  const code = await latestCode(k.adminUrl, email, { templateType: TEMPLATE });
  return { email, flow: sent.body.flow as string, code };
}

describe('verification expiry against a real Kratos', () => {
  it('an expired code: 410 CODE_EXPIRED, and a new code works', async () => {
    const { email, flow, code } = await sendCode(codeGw, shortCode);
    await new Promise((r) => setTimeout(r, LIFESPAN_MS + 500));
    const res = await postJson(`${codeGw.url}/v1/verification/code`, { flow, code });
    expect(res.status).toBe(410);
    expect(res.body.code).toBe('CODE_EXPIRED');
    expect(res.body.detail).toContain('POST /v1/verification');
    expect(JSON.stringify(res.body)).not.toContain(code);

    const again = await postJson(`${codeGw.url}/v1/verification`, { email });
    const fresh = await latestCode(shortCode.adminUrl, email, { templateType: TEMPLATE });
    const ok = await postJson(`${codeGw.url}/v1/verification/code`, { flow: again.body.flow, code: fresh });
    expect(ok.status).toBe(200);
  });

  it('an expired flow: 410 VERIFICATION_FLOW_EXPIRED; a re-send on it starts a new flow', async () => {
    const { email, flow, code } = await sendCode(flowGw, shortFlow);
    await new Promise((r) => setTimeout(r, LIFESPAN_MS + 500));
    const res = await postJson(`${flowGw.url}/v1/verification/code`, { flow, code });
    expect(res.status).toBe(410);
    expect(res.body.code).toBe('VERIFICATION_FLOW_EXPIRED');

    const resent = await postJson(`${flowGw.url}/v1/verification`, { email, flow });
    expect(resent.status).toBe(200);
    expect(resent.body.flow).not.toBe(flow);
    const fresh = await latestCode(shortFlow.adminUrl, email, { templateType: TEMPLATE });
    const ok = await postJson(`${flowGw.url}/v1/verification/code`, { flow: resent.body.flow, code: fresh });
    expect(ok.status).toBe(200);
  });
});
