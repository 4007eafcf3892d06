import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKratos, type KratosInstance } from '../../scripts/kratos.ts';
import { latestCode } from '../support/courier.ts';
import { postJson, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';
import { recordedHooks, startHookRecorder, type HookRecorder } from '../support/hook-recorder.ts';

/**
 * Enumeration-safe sign-up against a real Kratos whose registration has no session hook (so
 * its answer carries no session either): a sign-up for an existing address answers like a
 * new one, and the `existing_account` service is told.
 */

const PASSWORD = 'correct-horse-battery-staple';
// Above both paths even on a loaded test machine (a new sign-up took 1.7 s here under load).
const FLOOR_MS = 2500;

let kratos: KratosInstance;
let recorder: HookRecorder;
let gw: TestGateway;
beforeAll(async () => {
  [kratos, recorder] = await Promise.all([
    startKratos({ overlay: { selfservice: { flows: { registration: { after: { password: { hooks: [] } } } } } }, log: (l) => console.error(l) }),
    startHookRecorder(),
  ]);
  gw = await startTestGateway({
    config: {
      kratos: { public_url: kratos.publicUrl, admin_url: kratos.adminUrl },
      registration: {
        enumeration_safe: true,
        enumeration_safe_min_ms: FLOOR_MS,
        services: [{ name: 'tell_owner', stage: 'existing_account', retries: 0, http: { url: `${recorder.url}/existing-account`, body: { email: '{{traits.email}}' } } }],
      },
      selfservice: { registration: { after: { password: [] } } },
    },
  });
  // The first request of a fresh process pays for lazy set-up outside the floor (about 200 ms
  // here); the comparisons below are about steady state.
  await postJson(`${gw.url}/v1/registration`, { traits: { email: uniqueEmail('warm-up') }, password: PASSWORD });
}, 120_000);
afterAll(async () => {
  await gw?.close();
  await Promise.all([kratos?.stop(), recorder?.close()]);
});

const signUp = async (email: string) => {
  const t0 = performance.now();
  const res = await postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD });
  return { ...res, ms: performance.now() - t0 };
};

/** Replaces the flow handles, so two answers can be compared whole. */
function shape(body: any): unknown {
  return JSON.parse(JSON.stringify(body).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<flow>'));
}

async function toldAbout(email: string): Promise<number> {
  return (await recordedHooks(recorder.url)).filter((h) => (h as unknown as { email?: string }).email === email).length;
}

describe('registration.enumeration_safe against a real Kratos', () => {
  it('an existing address answers like a new one; the existing_account service is called once', async () => {
    const email = uniqueEmail('enum');
    const first = await signUp(email);
    const second = await signUp(email);
    console.error(`enumeration-safe sign-up (ms): new ${first.ms.toFixed(0)}, existing ${second.ms.toFixed(0)} (floor ${FLOOR_MS})`);

    expect(first.status).toBe(200);
    expect(second.status).toBe(first.status);
    expect(second.headers.get('content-type')).toBe(first.headers.get('content-type'));
    // No identity, no session, nothing only a new account has.
    expect(Object.keys(first.body).sort()).toEqual(['continue_with', 'verification']);
    expect(first.body.verification).toEqual({ flow: expect.any(String), sent_to: email });
    expect(shape(second.body)).toEqual(shape(first.body));
    expect(second.body.verification.flow).not.toBe(first.body.verification.flow);
    // Both at the floor, so the time says nothing either.
    expect(Math.min(first.ms, second.ms)).toBeGreaterThanOrEqual(FLOOR_MS - 5);
    expect(Math.abs(first.ms - second.ms)).toBeLessThan(250);

    // Only one account exists, and only the existing-address sign-up told the owner.
    const ids = (await (await fetch(`${kratos.adminUrl}/admin/identities?credentials_identifier=${encodeURIComponent(email)}`)).json()) as unknown[];
    expect(ids).toHaveLength(1);
    const deadline = Date.now() + 5000;
    while ((await toldAbout(email)) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    expect(await toldAbout(email)).toBe(1);
    // The service never sees the password.
    expect(JSON.stringify(await recordedHooks(recorder.url))).not.toContain(PASSWORD);
  });

  it('a code tried on either flow fails the same way; the new account\'s code verifies it', async () => {
    const email = uniqueEmail('enum-code');
    const first = await signUp(email);
    const second = await signUp(email);
    console.error(`enumeration-safe sign-up, second run (ms): new ${first.ms.toFixed(0)}, existing ${second.ms.toFixed(0)}`);
    const code = await latestCode(kratos.adminUrl, email, { templateType: 'verification_code_valid' });
    const wrong = code === '000000' ? '111111' : '000000';
    const a = await postJson(`${gw.url}/v1/verification/code`, { flow: first.body.verification.flow, code: wrong });
    const b = await postJson(`${gw.url}/v1/verification/code`, { flow: second.body.verification.flow, code: wrong });
    expect(a.status).toBe(400);
    expect(b.status).toBe(a.status);
    expect({ ...b.body, request_id: 'x' }).toEqual({ ...a.body, request_id: 'x' });
    expect(a.body.errors[0].code).toBe('CODE_INVALID');
    const ok = await postJson(`${gw.url}/v1/verification/code`, { flow: first.body.verification.flow, code });
    expect(ok.status).toBe(200);
  });
});
