import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { courierMessages, latestCode, latestMessage } from '../support/courier.ts';
import { postJson, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';

/**
 * Verification by code against the real Kratos (v1.3.1, verification `use: code`). Codes are
 * read from Kratos's courier through the admin API (test/support/courier.ts): no SMTP.
 */

const PASSWORD = 'correct-horse-battery-staple';
const APP = 'http://127.0.0.1:3000';
const TEMPLATE = 'verification_code_valid';

let gw: TestGateway;
let redirecting: TestGateway;
beforeAll(async () => {
  [gw, redirecting] = await Promise.all([
    startTestGateway({ config: { verification: { min_answer_ms: 0 } } }),
    startTestGateway({
      config: {
        cors: { allowed_origins: [APP] },
        selfservice: { verification: { after: { default_browser_return_url: `${APP}/verified` } } },
      },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([gw?.close(), redirecting?.close()]);
});

async function verifiedOf(adminUrl: string, email: string): Promise<boolean | undefined> {
  const list = (await (await fetch(`${adminUrl}/admin/identities?credentials_identifier=${encodeURIComponent(email)}`)).json()) as Array<{
    verifiable_addresses: Array<{ value: string; verified: boolean }>;
  }>;
  return list[0]?.verifiable_addresses[0]?.verified;
}

async function signUp(g: TestGateway, email: string) {
  const res = await postJson(`${g.url}/v1/registration`, { traits: { email }, password: PASSWORD });
  expect(res.status).toBe(200);
  return res;
}

describe('verification after sign-up', () => {
  it('the registration answer names the verification flow; its code verifies the address', async () => {
    const email = uniqueEmail('verify');
    const reg = await signUp(gw, email);
    expect(reg.body.verification).toEqual({ flow: expect.stringMatching(/^[0-9a-f-]{36}$/), sent_to: email });
    // continue_with is kept as Kratos sent it, and names the same flow.
    expect(reg.body.continue_with).toEqual([{ action: 'show_verification_ui', flow: { id: reg.body.verification.flow, verifiable_address: email } }]);
    expect(await verifiedOf(gw.kratos.adminUrl, email)).toBe(false);

    const code = await latestCode(gw.kratos.adminUrl, email, { templateType: TEMPLATE });
    const res = await postJson(`${gw.url}/v1/verification/code`, { flow: reg.body.verification.flow, code });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ verified: true });
    expect(await verifiedOf(gw.kratos.adminUrl, email)).toBe(true);

    // The same code again on the finished flow: its own code, and a way out.
    const again = await postJson(`${gw.url}/v1/verification/code`, { flow: reg.body.verification.flow, code });
    expect(again.status).toBe(410);
    expect(again.body.code).toBe('VERIFICATION_ALREADY_DONE');
    expect(JSON.stringify(again.body)).not.toContain(code);
  });

  it('a wrong code is a field error at /code, and the flow stays usable', async () => {
    const email = uniqueEmail('wrong');
    const reg = await signUp(gw, email);
    const code = await latestCode(gw.kratos.adminUrl, email, { templateType: TEMPLATE });
    const wrong = code === '000000' ? '111111' : '000000';
    const res = await postJson(`${gw.url}/v1/verification/code`, { flow: reg.body.verification.flow, code: wrong });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors).toEqual([{ pointer: '/code', code: 'CODE_INVALID', message: expect.any(String), kratos: { id: 4070006 } }]);
    expect(JSON.stringify(res.body)).not.toContain(wrong);
    expect(await verifiedOf(gw.kratos.adminUrl, email)).toBe(false);
    // The right code still works on the same flow.
    const ok = await postJson(`${gw.url}/v1/verification/code`, { flow: reg.body.verification.flow, code });
    expect(ok.status).toBe(200);
  });

  it('a re-send on the same flow mails a new code; the old one no longer works', async () => {
    const email = uniqueEmail('resend');
    const reg = await signUp(gw, email);
    const first = await latestMessage(gw.kratos.adminUrl, email, TEMPLATE);
    const oldCode = await latestCode(gw.kratos.adminUrl, email, { templateType: TEMPLATE });
    const resent = await postJson(`${gw.url}/v1/verification`, { email, flow: reg.body.verification.flow });
    expect(resent.status).toBe(200);
    expect(resent.body).toEqual({ flow: reg.body.verification.flow, sent_to: email });
    const newCode = await latestCode(gw.kratos.adminUrl, email, { templateType: TEMPLATE, after: first!.id });
    expect(newCode).not.toBe(oldCode);

    const old = await postJson(`${gw.url}/v1/verification/code`, { flow: resent.body.flow, code: oldCode });
    expect(old.status).toBe(400);
    expect(old.body.errors[0]).toMatchObject({ pointer: '/code', code: 'CODE_INVALID' });
    const ok = await postJson(`${gw.url}/v1/verification/code`, { flow: resent.body.flow, code: newCode });
    expect(ok.status).toBe(200);
    expect(await verifiedOf(gw.kratos.adminUrl, email)).toBe(true);
  });
});

describe('POST /v1/verification', () => {
  it('answers the same for an unknown address as for a known one (only the known one gets a mail)', async () => {
    const known = uniqueEmail('known');
    await signUp(gw, known);
    const unknown = uniqueEmail('unknown');
    const before = (await courierMessages(gw.kratos.adminUrl, known)).length;

    const a = await postJson(`${gw.url}/v1/verification`, { email: known.toUpperCase() });
    const b = await postJson(`${gw.url}/v1/verification`, { email: unknown });
    expect(a.status).toBe(200);
    expect(b.status).toBe(a.status);
    expect(a.headers.get('content-type')).toBe(b.headers.get('content-type'));
    const strip = (body: { flow: string; sent_to: string }) => ({ ...body, flow: '<handle>', sent_to: '<address>' });
    expect(strip(a.body)).toEqual(strip(b.body));
    expect(Object.keys(a.body).sort()).toEqual(['flow', 'sent_to']);
    expect(a.body.sent_to).toBe(known);
    expect(a.body.flow).not.toBe(b.body.flow);
    // Behind the same answer: the known address got a code, the unknown one none.
    expect((await courierMessages(gw.kratos.adminUrl, known)).length).toBe(before + 1);
    expect(await courierMessages(gw.kratos.adminUrl, unknown)).toEqual([]);

    // The new flow's code verifies the address.
    const code = await latestCode(gw.kratos.adminUrl, known, { templateType: TEMPLATE });
    expect((await postJson(`${gw.url}/v1/verification/code`, { flow: a.body.flow, code })).status).toBe(200);
  });

  it('timing: with a floor above both paths, known and unknown addresses take comparable time', async () => {
    // Kratos alone takes longer for a known address (it stores a code and queues a mail); the
    // floor (verification.min_answer_ms) hides that while both paths are faster than it.
    const floor = await startTestGateway({ config: { verification: { min_answer_ms: 800 } } });
    try {
      const known = uniqueEmail('timing');
      await signUp(floor, known);
      const time = async (email: string) => {
        const t0 = performance.now();
        const res = await postJson(`${floor.url}/v1/verification`, { email });
        expect(res.status).toBe(200);
        return performance.now() - t0;
      };
      const k: number[] = [];
      const u: number[] = [];
      for (let i = 0; i < 3; i++) {
        k.push(await time(known));
        u.push(await time(uniqueEmail('timing-unknown')));
      }
      const median = (xs: number[]) => xs.sort((x, y) => x - y)[1]!;
      console.error(`verification send timing (ms, median of 3): known ${median(k).toFixed(1)}, unknown ${median(u).toFixed(1)}`);
      // Both at least the floor, and within 150 ms of each other.
      expect(Math.min(...k, ...u)).toBeGreaterThanOrEqual(795);
      expect(Math.abs(median(k) - median(u))).toBeLessThan(150);
    } finally {
      await floor.close();
    }
  });

  it('an unknown or malformed flow handle', async () => {
    const res = await postJson(`${gw.url}/v1/verification/code`, { flow: crypto.randomUUID(), code: '123456' });
    expect(res.status).toBe(410);
    expect(res.body.code).toBe('VERIFICATION_FLOW_EXPIRED');
    expect(res.body.detail).toContain('POST /v1/verification');
    const bad = await postJson(`${gw.url}/v1/verification/code`, { flow: 'not-a-flow', code: '12345x', extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { pointer: string; code: string }) => `${e.pointer} ${e.code}`).sort()).toEqual([' UNKNOWN_FIELD', '/code PATTERN_MISMATCH', '/flow INVALID_FORMAT']);
    expect(JSON.stringify(bad.body)).not.toContain('12345x');
    // A re-send on an unknown flow starts a new one.
    const email = uniqueEmail('reflow');
    const gone = crypto.randomUUID();
    const resent = await postJson(`${gw.url}/v1/verification`, { email, flow: gone });
    expect(resent.status).toBe(200);
    expect(resent.body.flow).not.toBe(gone);
  });

  it('the sixth code on a flow fails even when right: CODE_ATTEMPTS_EXCEEDED', async () => {
    const email = uniqueEmail('attempts');
    const reg = await signUp(gw, email);
    const code = await latestCode(gw.kratos.adminUrl, email, { templateType: TEMPLATE });
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      const res = await postJson(`${gw.url}/v1/verification/code`, { flow: reg.body.verification.flow, code: wrong });
      expect(res.body.errors?.[0]?.code).toBe('CODE_INVALID');
    }
    const sixth = await postJson(`${gw.url}/v1/verification/code`, { flow: reg.body.verification.flow, code });
    expect(sixth.status).toBe(410);
    expect(sixth.body.code).toBe('CODE_ATTEMPTS_EXCEEDED');
    expect(sixth.body.detail).toContain('POST /v1/verification');
    expect(await verifiedOf(gw.kratos.adminUrl, email)).toBe(false);
  });
});

describe('the verification redirect after-job', () => {
  it('JSON gets redirect_to; a plain HTML form post gets a 303', async () => {
    const email = uniqueEmail('redirect');
    const reg = await signUp(redirecting, email);
    const code = await latestCode(redirecting.kratos.adminUrl, email, { templateType: TEMPLATE });
    const json = await postJson(`${redirecting.url}/v1/verification/code`, { flow: reg.body.verification.flow, code });
    expect(json.status).toBe(200);
    expect(json.body).toEqual({ verified: true, redirect_to: `${APP}/verified` });

    const email2 = uniqueEmail('redirect-form');
    const reg2 = await signUp(redirecting, email2);
    const code2 = await latestCode(redirecting.kratos.adminUrl, email2, { templateType: TEMPLATE });
    const form = await fetch(`${redirecting.url}/v1/verification/code`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: APP },
      body: new URLSearchParams({ flow: reg2.body.verification.flow, code: code2 }).toString(),
    });
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toBe(`${APP}/verified`);
    expect(await verifiedOf(redirecting.kratos.adminUrl, email2)).toBe(true);
  });
});
