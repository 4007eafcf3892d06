import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExamplePage, type ExamplePage } from '../../scripts/example-page.ts';
import { chromiumPath } from '../support/chromium.ts';
import { identitiesByEmail, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';

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
});
