import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../scripts/tool/core/http.js';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { waitUntilReady, type Stack } from '../../scripts/tool/testing/stack.js';
import { sharedStack } from '../support/shared-stack.js';
import { launchTrusting, steadily, type TrustingBrowser } from '../support/browser.js';

const PARTS = ['user', 'dns', 'server', 'nginx', 'app', 'db'];

let stack: Stack;
let trusting: TrustingBrowser;
let context: BrowserContext;
let page: Page;
let url: string;
const cspViolations: string[] = [];

beforeAll(async () => {
  stack = await sharedStack();
  // Over HTTPS with the stack's local CA trusted, as a person would (basic auth is HTTPS only).
  trusting = await launchTrusting({ 'webstack local CA': stack.port.ca });
  url = `https://localhost:${stack.port.port}/status/`;
  context = await trusting.browser.newContext({
    httpCredentials: { username: 'status', password: stack.env.STATUS_PASSWORD as string },
    viewport: { width: 1100, height: 1000 },
  });
  // Reported by the browser itself, whatever the console says.
  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (event) => {
      (globalThis.__csp ??= []).push(event.violatedDirective + ' ' + event.blockedURI);
    });`,
  });
  page = await context.newPage();
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
  });
});

afterAll(async () => {
  await trusting?.close();
});

const health = (part: string) => page.locator(`#part-${part}`).getAttribute('data-health');
const violations = async () => [
  ...cspViolations,
  ...(await page.evaluate(() => (globalThis as { __csp?: string[] }).__csp ?? [])),
];

describe('the live whiteboard (/status) in headless Chromium', () => {
  it('draws every part live, traces a request through its hops, and violates no CSP', async () => {
    const response = await steadily(() => page.goto(url));
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    for (const part of PARTS) expect(await page.locator(`#part-${part} rect`).count(), part).toBe(1);
    // Each part up in turn: the stack is shared, and another file's outage keeps its 5xx in the
    // monitor's window (a part "degraded") for a few seconds after the part is back.
    for (const part of ['app', 'server', 'nginx', 'db'])
      await expect.poll(() => health(part), { timeout: 15_000 }).toBe('up');
    // The stack's app image was built under the tests' tag: that is its release's name.
    expect(await page.locator('#part-app').textContent()).toContain(`release ${imagesOf(process.env).tag}`);
    // The database's box: its schema's size on disk (tables and indexes), in a unit that fits
    // it (the shared stack holds other files' posts too: its size is read, not assumed).
    const schemaBytes = Number(
      await stack.sql(
        'SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = DATABASE()',
      ),
    );
    const unit = schemaBytes < 1024 * 1024 ? 'KiB' : 'MiB';
    await expect.poll(() => page.locator('#part-db').textContent()).toMatch(new RegExp(`data \\d+(\\.\\d)? ${unit}`));
    // A laptop's stack has no public address to compare records with: DNS is honestly
    // unknown, and nothing is looked up. The certificate is the local CA's 90-day one.
    expect(await health('dns')).toBe('unknown');
    expect(await page.locator('#part-dns').textContent()).toContain('not looked up here');
    await expect
      .poll(() => page.locator('#part-nginx').textContent(), { timeout: 10_000 })
      .toMatch(/cert: (89|90) days/);

    // Some traffic, then one request followed through nginx, the app and the database.
    for (let i = 0; i < 40; i++) await request(stack.port, '/api/posts?limit=5');
    const traced = await request(stack.port, '/api/posts?limit=3');
    const id = traced.headers['x-request-id'] as string;
    await expect.poll(() => page.locator('#app-l1').textContent(), { timeout: 10_000 }).not.toBe('– req/s');
    // nginx's line comes in its next batch (within about 2 s): ask again until it is there.
    await expect
      .poll(
        async () => {
          // Cleared first, so what is read below is this lookup's answer, not the last one's.
          await page.locator('#trace-result').evaluate((el) => {
            el.textContent = '';
          });
          await page.fill('#trace-id', id);
          await page.click('#trace-form button');
          await expect.poll(() => page.locator('#trace-result').textContent()).toContain('MySQL');
          return page.locator('#trace-result').textContent();
        },
        { timeout: 10_000, interval: 500 },
      )
      .toMatch(/^nginx GET/);
    const hops = await page.locator('#trace-result').textContent();
    expect(hops).toMatch(/nginx GET \/api\/posts\?limit=3 → 200 in [\d.]+ ms/);
    expect(hops).toMatch(/app \/api\/posts → 200 in [\d.]+ ms/);
    expect(hops).toMatch(/MySQL [\d.]+ ms over 1 query/);
    expect(await page.locator('.traced').count()).toBeGreaterThanOrEqual(5);
    await expect.poll(() => page.locator('#scalability').textContent()).toContain('of the knee the bench measured');
    await page.screenshot({ path: `${REPO_ROOT}test/results/status-page.png`, fullPage: true });
    expect(await violations()).toEqual([]);
  });

  it('turns the app red within seconds of it stopping, and green again when it is back', async () => {
    const app = await stack.container('app');
    await app.stop({ t: 10 });
    const stopped = Date.now();
    try {
      await expect.poll(() => health('app'), { timeout: 10_000, interval: 200 }).toBe('down');
      const secondsToRed = (Date.now() - stopped) / 1000;
      // The page itself came from nginx; only the app is red.
      for (const part of ['server', 'nginx', 'db']) expect(await health(part)).toBe('up');
      await steadily(() => page.reload());
      await expect.poll(() => health('app'), { timeout: 10_000 }).toBe('down');
      await page.screenshot({ path: `${REPO_ROOT}test/results/status-page-app-down.png`, fullPage: true });
      expect(secondsToRed).toBeLessThan(10);
    } finally {
      await app.start();
    }
    await waitUntilReady(stack.port);
    await expect.poll(() => health('app'), { timeout: 15_000, interval: 200 }).toBe('up');
    await expect.poll(() => page.locator('#spof').textContent()).toMatch(/app\s*up/);
    expect(await page.locator('#maintenance').textContent()).toMatch(/unreachable [\d.]+ s/);
    expect(await violations()).toEqual([]);
  });

  it('answers 401 without the password or with a wrong one', async () => {
    for (const credentials of [undefined, { username: 'status', password: 'wrong' }]) {
      const other = await trusting.browser.newContext(credentials ? { httpCredentials: credentials } : {});
      const attempt = await other.newPage();
      const statuses: number[] = [];
      attempt.on('response', (response) => {
        if (response.url() === url) statuses.push(response.status());
      });
      // Headless Chromium cannot ask for a password: it shows the 401 page or fails the navigation.
      const error = await steadily(() => attempt.goto(url)).then(
        () => undefined,
        (err: Error) => err.message,
      );
      expect(error ?? 'shown').toMatch(/^shown$|ERR_INVALID_AUTH_CREDENTIALS/);
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.every((status) => status === 401)).toBe(true);
      await other.close();
    }
  });
});
