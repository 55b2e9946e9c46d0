// The domain is configuration: one stack under another name than the design's. nginx's
// server names, its redirects, the local certificate and the pages' own text all follow
// SITE_DOMAIN, and the design's name is no longer served.
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedCertificate } from '../../scripts/tool/cert/status.js';
import { request } from '../../scripts/tool/core/http.js';
import { startStack, type Stack } from '../../scripts/tool/testing/stack.js';

const SITE = 'www.example.test';
const APEX = 'example.test';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { SITE_DOMAIN: SITE } });
});
afterAll(async () => {
  await stack?.stop();
});

const get = (path: string, host = SITE) => request(stack.port, path, { host });

describe(`a stack whose SITE_DOMAIN is ${SITE}`, () => {
  it("serves the site under that name, with its bare domain in the page's title and heading", async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.body).toContain(`<title>${APEX}</title>`);
    expect(page.body).toContain(`<h1>${APEX}</h1>`);
    expect(page.body).toContain('<form id="new-post">');
    expect(page.body).not.toContain('foobar');
    // Compressed after the name is written in, not sent from a twin made at build time.
    const compressed = await request(stack.port, '/', { host: SITE, headers: { 'accept-encoding': 'gzip' } });
    expect(compressed.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(compressed.bytes).toString('utf8')).toBe(page.body);
  });

  it('names it on the error pages too', async () => {
    const missing = await get('/no-such-page');
    expect(missing.status).toBe(404);
    expect(missing.body).toContain(`<title>Page not found · ${APEX}</title>`);
    expect(missing.body).not.toContain('foobar');
  });

  it('redirects the bare domain and port 80 to https://www.example.test, path and query kept', async () => {
    const apex = await get('/a/b?c=d', APEX);
    expect(apex.status).toBe(301);
    expect(apex.headers.location).toBe(`https://${SITE}/a/b?c=d`);
    for (const host of [SITE, APEX]) {
      const plain = await request(stack.httpPort, '/a/b?c=d', { host });
      expect(plain.status, host).toBe(301);
      expect(plain.headers.location, host).toBe(`https://${SITE}/a/b?c=d`);
    }
  });

  it("serves no site for the design's default name", async () => {
    const design = await request(stack.port, '/', { host: 'www.foobar.com', servername: SITE });
    expect(design.status).toBe(421);
    expect(design.body).not.toContain('<form');
    expect((await request(stack.httpPort, '/', { host: 'foobar.com' })).status).toBe(421);
  });

  it('makes the local certificate for that name and its bare domain', async () => {
    const served = await servedCertificate(stack.port.port, SITE);
    expect(served.names).toEqual(expect.arrayContaining([SITE, APEX, 'localhost']));
    expect(served.names.join(' ')).not.toContain('foobar');
    // Verified against the stack's CA by name: the request above trusted nothing else.
    expect((await get('/api/health/ready')).status).toBe(200);
  });
});
