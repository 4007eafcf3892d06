import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExamplePage, type ExamplePage } from '../../scripts/example-page.ts';
import { chromiumPath } from '../support/chromium.ts';
import { latestCode } from '../support/courier.ts';
import { identitiesByEmail, postJson, registerSecret, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';

// Debian's chromium, installed by the integration global setup when missing (or CHROMIUM_PATH).
// Playwright's own browser download cannot work here, so playwright-core drives the system browser.
const CHROMIUM = chromiumPath();

let gateway: TestGateway;
let page: ExamplePage;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No browser at ${CHROMIUM}, although the integration setup (test/support/chromium.ts) checks for one. Run scripts/install-browser.sh (Debian's chromium), or set CHROMIUM_PATH.`);
  }
  page = await startExamplePage(() => gateway.url);
  gateway = await startTestGateway({
    config: {
      registration: {
        fields: {
          company: { type: 'string', required: true, min_length: 2, target: 'trait' },
          accept_terms: { type: 'boolean', const: true, required: true },
        },
      },
      secrets: { session: ['browser-test-secret-0123456789abcdefghijkl'] },
      // Cookie over plain http on loopback: Secure off, as in the dev config.
      session: { delivery: 'token', client_choice: true, cookie: { secure: false } },
      cors: { allowed_origins: [page.url] },
    },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await gateway?.close();
  await page?.close();
});

describe('the example page in a real browser', () => {
  it('signs up (cookie over CORS), shows the signed-in identity, and signs out', async () => {
    const email = uniqueEmail('browser');
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(page.url);
    await expect.poll(() => tab.textContent('#status')).toBe('Signed out');

    await tab.fill('#email', email);
    await tab.fill('#password', 'correct-horse-battery-staple');
    await tab.fill('#company', 'Analytical Engines');
    await tab.check('#terms');
    await tab.click('#signup-button');
    await expect.poll(() => tab.textContent('#status'), { timeout: 10_000 }).toBe(`Signed in as ${email}`);

    // The browser holds the gateway's HttpOnly cookie; page script cannot read it.
    const cookies = await context.cookies(gateway.url);
    const session = cookies.find((c) => c.name === 'kbff_session');
    expect(session?.httpOnly).toBe(true);
    expect(await tab.evaluate(() => document.cookie)).not.toContain('kbff_session');
    const [identity] = await identitiesByEmail(gateway.kratos.adminUrl, email);
    expect(identity?.traits).toMatchObject({ email, company: 'Analytical Engines' });

    await tab.click('#signout-button');
    await expect.poll(() => tab.textContent('#status'), { timeout: 10_000 }).toBe('Signed out');
    expect((await context.cookies(gateway.url)).find((c) => c.name === 'kbff_session')).toBeUndefined();
    const sessions = (await (await fetch(`${gateway.kratos.adminUrl}/admin/identities/${identity!.id}/sessions`)).json()) as Array<{ active: boolean }>;
    expect(sessions.length).toBeGreaterThan(0);
    expect(sessions.every((s) => !s.active)).toBe(true);
    await context.close();
  });

  it('walks sign-up → verify email → sign out → recover with a code → signed in with the new password', async () => {
    const email = uniqueEmail('journey');
    const newPassword = 'journey-new-passphrase-9';
    registerSecret(newPassword);
    const admin = gateway.kratos.adminUrl;
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(page.url);
    await expect.poll(() => tab.textContent('#status')).toBe('Signed out');

    await tab.fill('#email', email);
    await tab.fill('#password', 'correct-horse-battery-staple');
    await tab.fill('#company', 'Analytical Engines');
    await tab.check('#terms');
    await tab.click('#signup-button');
    // The sign-up answer names the verification flow: the page shows the code screen.
    await tab.waitForSelector('#verify:not([hidden])', { timeout: 10_000 });
    expect(await tab.textContent('#verify-to')).toBe(email);
    await tab.fill('#verify-code', await latestCode(admin, email, { templateType: 'verification_code_valid' }));
    await tab.click('#verify-button');
    await expect.poll(() => tab.textContent('#status'), { timeout: 10_000 }).toBe('Email verified');
    const [verified] = (await identitiesByEmail(admin, email)) as Array<{ verifiable_addresses?: Array<{ verified: boolean }> }>;
    expect(verified?.verifiable_addresses?.[0]?.verified).toBe(true);

    await tab.click('#signout-button');
    await expect.poll(() => tab.textContent('#status'), { timeout: 10_000 }).toBe('Signed out');

    await tab.click('#forgot-link');
    await tab.fill('#forgot-email', email);
    await tab.click('#forgot-button');
    await expect.poll(() => tab.textContent('#status'), { timeout: 10_000 }).toBe('Code sent');
    await tab.fill('#recover-code', await latestCode(admin, email, { templateType: 'recovery_code_valid' }));
    await tab.fill('#recover-password', newPassword);
    await tab.click('#recover-button');
    await expect.poll(() => tab.textContent('#status'), { timeout: 10_000 }).toBe(`Signed in as ${email}`);
    expect((await context.cookies(gateway.url)).find((c) => c.name === 'kbff_session')?.httpOnly).toBe(true);

    // The new password signs in; the old one no longer does.
    const login = (password: string) => postJson(`${gateway.url}/v1/login`, { identifier: email, password }, { 'x-session-delivery': 'token' });
    expect((await login(newPassword)).status).toBe(200);
    expect((await login('correct-horse-battery-staple')).body.code).toBe('INVALID_CREDENTIALS');
    await context.close();
  });
});
