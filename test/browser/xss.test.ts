import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../scripts/tool/core/http.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { waitUntilReady, type Stack } from '../../scripts/tool/testing/stack.js';
import { sharedStack } from '../support/shared-stack.js';
import { launchTrusting, postThroughForm, steadily, type TrustingBrowser } from '../support/browser.js';

const PAYLOAD = `<script>window.__xss = 'script'</script><img src=x onerror="window.__xss = 'img'"><svg onload="alert('svg')">`;

let stack: Stack;
let trusting: TrustingBrowser;
let browser: Browser;
/** The site over HTTPS, its certificate from the stack's local CA, which this browser trusts. */
let site: string;

beforeAll(async () => {
  stack = await sharedStack();
  trusting = await launchTrusting({ 'webstack local CA': stack.port.ca });
  browser = trusting.browser;
  site = `https://localhost:${stack.port.port}/`;
});

afterAll(async () => {
  await trusting?.close();
});

describe('the front page in a real browser, through nginx', () => {
  it('shows a post containing markup as text, runs none of it, and violates no CSP', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const dialogs: string[] = [];
    const cspViolations: string[] = [];
    page.on('dialog', async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
    });

    const response = await steadily(() => page.goto(site));
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.waitForSelector('#list-status:has-text("No posts yet."), #posts li');

    await postThroughForm(page, '<b>mallory</b>', PAYLOAD);

    const shown = async () => ({
      author: await page.locator('#posts li strong').first().textContent(),
      body: await page.locator('#posts li .body').first().textContent(),
      injectedElements: await page.locator('#posts script, #posts img, #posts svg, #posts b').count(),
      canary: await page.evaluate(() => (globalThis as { __xss?: string }).__xss ?? null),
    });
    expect(await shown()).toEqual({ author: '<b>mallory</b>', body: PAYLOAD, injectedElements: 0, canary: null });

    // Loaded again from the API, as every other visitor sees it.
    await steadily(() => page.reload());
    await page.waitForSelector('#posts li');
    expect(await shown()).toEqual({ author: '<b>mallory</b>', body: PAYLOAD, injectedElements: 0, canary: null });
    await page.screenshot({ path: `${REPO_ROOT}test/results/front-page.png`, fullPage: true });

    // Stored exactly as typed.
    const latest = (await request(stack.port, '/api/posts?limit=1')).json();
    expect(latest.posts[0]).toMatchObject({ author: '<b>mallory</b>', body: PAYLOAD });
    expect(dialogs).toEqual([]);
    expect(cspViolations).toEqual([]);
    await context.close();
  });

  it('still loads while the app is down, and says the posts are unavailable', async () => {
    const app = await stack.container('app');
    await app.stop({ t: 10 });
    const page = await browser.newPage();
    try {
      const response = await steadily(() => page.goto(site));
      expect(response?.status()).toBe(200);
      await expect.poll(() => page.locator('#list-status').textContent()).toContain('Posts are unavailable right now');
    } finally {
      await page.close();
      await app.start();
    }
    await waitUntilReady(stack.port);
  });
});
