import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { courierMessages } from '../support/courier-code.ts';
import { postJson, registerSecret, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';
import { totp, wrongTotp } from '../support/totp.ts';

/**
 * Rate limits of the routes that check a code or make Kratos send an email, against the real
 * Kratos: the second factor's per-account limit holds across new sign-ins (new handles), so a
 * TOTP cannot be brute-forced even by someone with the password, and a limited send route
 * makes Kratos send nothing.
 */

const PASSWORD = 'correct-horse-battery-staple';
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({
    config: {
      abuse: {
        rate_limits: {
          second_factor: { ip: false, identifier: { limit: 3, window_s: 86_400 } },
          verification: { ip: false, identifier: { limit: 2, window_s: 600 } },
        },
        brute_force: { enabled: false },
        equal_timing: { enabled: false },
      },
    },
  });
});
afterAll(async () => {
  await gw?.close();
});

async function signUp(email: string): Promise<string> {
  const res = await postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD }, { 'x-session-delivery': 'token' });
  expect(res.status).toBe(200);
  registerSecret(res.body.session_token);
  return res.body.session_token as string;
}

async function enrolTotp(sessionToken: string): Promise<string> {
  const auth = { authorization: `Bearer ${sessionToken}` };
  const started = await postJson(`${gw.url}/v1/settings/totp`, undefined, auth);
  expect(started.status).toBe(200);
  const secret = started.body.secret as string;
  registerSecret(secret, started.body.handle);
  expect((await postJson(`${gw.url}/v1/settings/totp/confirm`, { handle: started.body.handle, totp_code: totp(secret) }, auth)).status).toBe(200);
  return secret;
}

async function handleOf(email: string): Promise<string> {
  const res = await postJson(`${gw.url}/v1/login`, { identifier: email, password: PASSWORD });
  expect(res.status).toBe(403);
  expect(res.body.code).toBe('SECOND_FACTOR_REQUIRED');
  registerSecret(res.body.handle);
  return res.body.handle as string;
}

describe('POST /v1/login/second-factor: per-account limit on the real Kratos', () => {
  it('after the limit even the right TOTP is refused (429), on a new sign-in too; another account is unaffected', async () => {
    const email = uniqueEmail('totplimit');
    const secret = await enrolTotp(await signUp(email));
    const first = await handleOf(email);
    for (const handle of [first, first, await handleOf(email)]) {
      const wrong = await postJson(`${gw.url}/v1/login/second-factor`, { handle, totp_code: wrongTotp(secret) });
      expect(wrong.status).toBe(400);
      expect(wrong.body.errors).toEqual([expect.objectContaining({ code: 'CODE_INVALID' })]);
      expect(wrong.headers.get('ratelimit-policy')).toBe('"identifier";q=3;w=86400');
    }
    // A fresh password sign-in gives a new handle (new AAL1 session): it shares the account's counter.
    const fresh = await handleOf(email);
    const limited = await postJson(`${gw.url}/v1/login/second-factor`, { handle: fresh, totp_code: totp(secret) });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(86_000);
    expect(limited.headers.get('ratelimit')).toMatch(/^"identifier";r=0;t=\d+$/);

    const other = uniqueEmail('totpother');
    const otherSecret = await enrolTotp(await signUp(other));
    const ok = await postJson(`${gw.url}/v1/login/second-factor`, { handle: await handleOf(other), totp_code: totp(otherSecret) }, { 'x-session-delivery': 'token' });
    expect(ok.status).toBe(200);
    registerSecret(ok.body.session_token);
  });
});

describe('POST /v1/verification: a limited send makes Kratos send nothing', () => {
  it('the third send to one address (in any spelling) is 429 and no third code is mailed', async () => {
    const email = uniqueEmail('verifylimit');
    await signUp(email);
    const count = async () => (await courierMessages(gw.kratos.adminUrl, email)).filter((m) => m.template_type === 'verification_code_valid').length;
    const before = await count();
    expect((await postJson(`${gw.url}/v1/verification`, { email })).status).toBe(200);
    expect((await postJson(`${gw.url}/v1/verification`, { email: email.toUpperCase() })).status).toBe(200);
    expect(await count()).toBe(before + 2);
    const limited = await postJson(`${gw.url}/v1/verification`, { email });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(500);
    expect(limited.headers.get('ratelimit-policy')).toBe('"identifier";q=2;w=600');
    await new Promise((r) => setTimeout(r, 300));
    expect(await count()).toBe(before + 2);
  });
});
