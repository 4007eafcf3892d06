import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from '../support/chromium.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

// The docs page in a real browser with the network closed to everything but loopback: the
// renderer must come entirely from the gateway (no CDN, no validator.swagger.io, no fonts).
const CHROMIUM = chromiumPath();

let gateway: TestGateway;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No browser at ${CHROMIUM}, although the integration setup (test/support/chromium.ts) checks for one. Run scripts/install-browser.sh (Debian's chromium), or set CHROMIUM_PATH.`);
  }
  gateway = await startTestGateway({ config: { docs: { enabled: true } } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await gateway?.close();
});

const isLoopback = (url: string) => {
  const { protocol, hostname } = new URL(url);
  return protocol === 'data:' || hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
};

describe('/docs in a real browser', () => {
  it('renders the registration operation from the gateway\'s own files, offline, with no CSP violation', async () => {
    const context = await browser.newContext();
    const blocked: string[] = [];
    const loaded: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLoopback(url)) {
        loaded.push(new URL(url).pathname);
        return route.continue();
      }
      blocked.push(url);
      return route.abort('internetdisconnected');
    });
    const tab = await context.newPage();
    const problems: string[] = [];
    tab.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    tab.on('pageerror', (e) => problems.push(e.message));

    const res = await tab.goto(`${gateway.url}/docs`);
    expect(res?.status()).toBe(200);
    const register = tab.locator('.opblock-post', { has: tab.locator('.opblock-summary-operation-id', { hasText: /^register$/ }) });
    await expect.poll(() => register.count(), { timeout: 15_000 }).toBe(1);
    expect(await register.locator('.opblock-summary-path').textContent()).toBe('/v1/registration');
    expect(await tab.locator('.opblock-summary-operation-id').allTextContents()).toEqual(
      expect.arrayContaining(['register', 'login', 'getSession', 'logout']),
    );
    // Opening it shows the documented request body and error answers.
    await register.locator('.opblock-summary').click();
    await expect.poll(() => register.locator('.responses-table .response-col_status').allTextContents(), { timeout: 5_000 }).toEqual(
      expect.arrayContaining(['200', '429', '503']),
    );

    expect(blocked).toEqual([]);
    expect(loaded).toEqual(expect.arrayContaining(['/docs', '/docs/assets/swagger-ui.css', '/docs/assets/swagger-ui-bundle.js', '/docs/assets/init.js', '/openapi.json']));
    expect(problems).toEqual([]);
    await context.close();
  });
});
