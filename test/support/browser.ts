import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { sleep } from '../../scripts/tool/core/wait.js';

const run = promisify(execFile);

// Debian's chromium, driven headless; never a browser download.
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TrustingBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Chromium that trusts exactly the given CAs besides its defaults, the way a person would
 * set it up: a fresh HOME whose NSS database (~/.pki/nssdb, made with certutil from
 * libnss3-tools) holds them as trusted for websites. Certificate errors are not ignored.
 */
export async function launchTrusting(cas: Record<string, string>, args: string[] = []): Promise<TrustingBrowser> {
  const home = await mkdtemp(join(tmpdir(), 'webstack-browser-'));
  const db = `sql:${join(home, '.pki', 'nssdb')}`;
  await mkdir(join(home, '.pki', 'nssdb'), { recursive: true });
  await run('certutil', ['-N', '-d', db, '--empty-password']);
  for (const [name, pem] of Object.entries(cas)) {
    const file = join(home, `${name.replace(/\W+/g, '-')}.pem`);
    await writeFile(file, pem);
    await run('certutil', ['-A', '-d', db, '-n', name, '-t', 'C,,', '-i', file]);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, ...args],
    env: { ...process.env, HOME: home },
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/**
 * Runs a navigation (goto, reload), again if Chromium aborted it with ERR_NETWORK_CHANGED.
 * Chromium does that whenever a network interface comes or goes, and the suite's other lanes
 * add and remove Docker bridges and veths all the time: the test machine moved, not the site.
 * Up to 4 tries, half a second apart; every other failure stands at once.
 */
export async function steadily<T>(navigation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await navigation();
    } catch (error) {
      if (attempt >= 4 || !/ERR_NETWORK_CHANGED/.test((error as Error).message)) throw error;
      await sleep(500);
    }
  }
}

/**
 * Posts through the sample page's form and waits for its answer, "Posted." or "Not posted:
 * <why>"; anything but "Posted." fails with the page's own words. A post whose request
 * Chromium aborted with ERR_NETWORK_CHANGED is sent again, as in steadily().
 */
export async function postThroughForm(page: Page, author: string, body: string): Promise<void> {
  await page.fill('input[name="author"]', author);
  await page.fill('textarea[name="body"]', body);
  const status = page.locator('#form-status');
  for (let attempt = 1; ; attempt++) {
    let networkChanged = false;
    const onFailed = (request: Request) => {
      if (request.method() === 'POST' && /ERR_NETWORK_CHANGED/.test(request.failure()?.errorText ?? '')) {
        networkChanged = true;
      }
    };
    page.on('requestfailed', onFailed);
    try {
      await page.click('button[type="submit"]');
      await status.filter({ hasText: /^(Posted\.|Not posted)/ }).waitFor({ timeout: 30_000 });
    } finally {
      page.off('requestfailed', onFailed);
    }
    const answer = (await status.textContent()) ?? '';
    if (answer === 'Posted.') return;
    if (attempt >= 4 || !networkChanged) throw new Error(`the page did not post: "${answer}"`);
    await sleep(500);
  }
}
