import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../scripts/tool/core/http.js';
import type { Stack } from '../../scripts/tool/testing/stack.js';
import { sharedStack } from '../support/shared-stack.js';
import { isCleanJsonError } from '../support/http.js';
import { rawRequest, type RawResponse } from '../support/raw-http.js';
import { recordResult } from '../support/results.js';
import { corpus, type Expectation, type HostileCase } from './corpus.js';

let stack: Stack;
const outcomes: Array<{ category: string; name: string; status: number; ok: boolean }> = [];

beforeAll(async () => {
  stack = await sharedStack();
});

afterAll(async () => {
  const categories = [...new Set(corpus.map((c) => c.category))].map((category) => {
    const mine = outcomes.filter((o) => o.category === category);
    return { category, cases: mine.length, passed: mine.filter((o) => o.ok).length };
  });
  await recordResult('hostileInput', { total: outcomes.length, categories });
});

// Checksum and row count: any change to the posts table shows.
const postsFingerprint = () =>
  stack.sql('SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS(0x1f, id, author, body))), 0) FROM posts');
/**
 * The table as the last case that passed left it: the cases run one after another and
 * nothing else writes, so that case's closing fingerprint is the next one's opening one
 * (each is a `docker exec` of the mysql client, most of a case's time). Forgotten when a
 * case fails, so the next one measures afresh.
 */
let lastFingerprint: string | undefined;
async function fingerprintBefore(): Promise<string> {
  const known = lastFingerprint;
  lastFingerprint = undefined;
  return known ?? postsFingerprint();
}

// Leaks that must never reach a client: files, config, secrets, stack traces, defaults.
const LEAKS =
  /root:x:|MYSQL_|DB_PASSWORD|\[core\]|CREATE TABLE|"dependencies"|services:|at [\w.<>]+ \(|<center>nginx<\/center>/;

function checkBody(response: RawResponse, wanted: Expectation): void {
  const type = response.headers['content-type'] ?? '';
  if (wanted.kind === 'json-error' || wanted.kind === 'json') {
    expectType(type, /^application\/json/);
    if (wanted.kind === 'json-error') expectJsonError(response);
  } else {
    expectType(type, /^text\/html/);
    if (wanted.kind === 'html-error') {
      // One of our pages (nginx/errors/), never nginx's default page.
      if (!/<h1>[^<]+<\/h1>/.test(response.body) || !response.body.includes('foobar.com')) {
        throw new Error(`not one of the site's error pages:\n${response.body.slice(0, 300)}`);
      }
    }
  }
  if (wanted.mentions && !response.body.includes(wanted.mentions)) {
    throw new Error(`body does not mention ${wanted.mentions}: ${response.body.slice(0, 300)}`);
  }
}

function expectType(type: string, pattern: RegExp): void {
  if (!pattern.test(type)) throw new Error(`content-type ${JSON.stringify(type)} does not match ${pattern}`);
}

function expectJsonError(response: RawResponse): void {
  if (!isCleanJsonError(response.status, response.body, response.headers['content-type'])) {
    throw new Error(`not a clear JSON error for ${response.status}: ${response.body.slice(0, 300)}`);
  }
}

async function runCase(testCase: HostileCase): Promise<void> {
  const before = await fingerprintBefore();
  const response = await rawRequest(stack.port, testCase.request);
  const statuses = [testCase.expect.status].flat();
  try {
    expect(statuses, `status for ${testCase.name}: ${response.body.slice(0, 200)}`).toContain(response.status);
    checkBody(response, testCase.expect);
    // Security headers ride on every response, errors included.
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
    expect(response.body).not.toMatch(LEAKS);
    if (response.status === 405) expect(response.headers.allow).toMatch(/^GET, HEAD/);
    const after = await postsFingerprint();
    if (testCase.stores) {
      const created = JSON.parse(response.body) as { id: number };
      const stored = (await request(stack.port, `/api/posts/${created.id}`)).json();
      expect(stored).toMatchObject(testCase.stores);
    } else {
      expect(after, 'the posts table changed').toBe(before);
    }
    lastFingerprint = after;
    outcomes.push({ category: testCase.category, name: testCase.name, status: response.status, ok: true });
  } catch (error) {
    outcomes.push({ category: testCase.category, name: testCase.name, status: response.status, ok: false });
    throw error;
  }
}

/**
 * The same bytes to plain HTTP on port 80, which serves no site: a redirect to https or
 * an error, never content or a write, never a leak, security headers on every answer.
 */
async function runCaseOnPort80(testCase: HostileCase): Promise<void> {
  const before = await fingerprintBefore();
  const response = await rawRequest(stack.httpPort, testCase.request);
  if (response.status !== 0) {
    expect(response.status === 301 || response.status >= 400, `status ${response.status}`).toBe(true);
    if (response.status === 301) expect(response.headers.location).toMatch(/^https:\/\//);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
  }
  expect(response.body).not.toMatch(LEAKS);
  const after = await postsFingerprint();
  expect(after, 'the posts table changed').toBe(before);
  lastFingerprint = after;
}

describe(`the same corpus on port 80: redirects and errors only (${corpus.length} cases)`, () => {
  for (const testCase of corpus) {
    it(`${testCase.category}: ${testCase.name}`, () => runCaseOnPort80(testCase));
  }
});

describe(`hostile and broken requests through nginx over HTTPS (${corpus.length} cases)`, () => {
  it('has at least 60 cases', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(60);
  });

  for (const testCase of corpus) {
    it(`${testCase.category}: ${testCase.name}`, () => runCase(testCase));
  }

  it('leaves the stack healthy and every table in place', async () => {
    expect((await request(stack.port, '/api/health/ready')).status).toBe(200);
    expect(
      await stack.sql(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'webstack' AND table_name = 'posts'",
      ),
    ).toBe('1');
    const created = await request(stack.port, '/api/posts', {
      method: 'POST',
      body: { author: 'after', body: 'the corpus' },
    });
    expect(created.status).toBe(201);
  });
});
