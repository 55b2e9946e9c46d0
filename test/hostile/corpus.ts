import { buildRequest, type RequestParts } from '../support/raw-http.js';

/** What a hostile or broken request must get back. */
export interface Expectation {
  status: number | number[];
  /** json-error: a JSON {statusCode, error, message}; html-error: one of our HTML pages. */
  kind: 'json-error' | 'html-error' | 'json' | 'html';
  /** Text the body must contain, e.g. the field a validation error names. */
  mentions?: string;
}

export interface HostileCase {
  category: string;
  name: string;
  request: Buffer;
  expect: Expectation;
  /** Set for requests meant to store a post: it must come back exactly as sent. */
  stores?: { author: string; body: string };
}

const post = (body: Buffer | string, parts: RequestParts = {}) =>
  buildRequest({ method: 'POST', path: '/api/posts', body, ...parts });
const json = (value: unknown) => JSON.stringify(value);
const bad = (mentions?: string): Expectation => ({ status: 400, kind: 'json-error', ...(mentions && { mentions }) });
const notFoundPage: Expectation = { status: 404, kind: 'html-error' };
/** Requests nginx refuses while reading them, before it knows what they are for. */
const rejectedByNginx: Expectation = { status: 400, kind: 'html-error' };
const big = (n: number) => 'a'.repeat(n);

const cases: HostileCase[] = [];
const add = (category: string, name: string, request: Buffer, expect: Expectation, stores?: HostileCase['stores']) =>
  cases.push({ category, name, request, expect, ...(stores && { stores }) });

// Malformed and truncated JSON.
for (const [name, body] of [
  ['truncated object', '{"author":"a","body":'],
  ['missing closing brace', '{"author":"a","body":"b"'],
  ['unquoted keys', '{author:"a",body:"b"}'],
  ['single quotes', "{'author':'a','body':'b'}"],
  ['trailing comma', '{"author":"a","body":"b",}'],
  ['two objects', '{"author":"a","body":"b"}{"author":"a","body":"b"}'],
  ['NaN literal', '{"author":"a","body":NaN}'],
  ['not JSON at all', 'hello'],
  ['empty body', ''],
  ['raw control character in a string', '{"author":"a","body":"x\u0001y"}'],
] as const) {
  add('malformed JSON', name, post(body), bad());
}
add('malformed JSON', 'JSON null', post('null'), bad('body'));
add('malformed JSON', 'JSON string', post('"a post"'), bad('body'));
add('malformed JSON', 'JSON array', post(json([{ author: 'a', body: 'b' }])), bad('body'));
add('malformed JSON', 'nested 5000 deep', post(`${'['.repeat(5000)}${']'.repeat(5000)}`), bad());
add(
  'malformed JSON',
  '__proto__ key (prototype poisoning)',
  post('{"author":"a","body":"b","__proto__":{"admin":true}}'),
  bad(),
);
add(
  'malformed JSON',
  'constructor.prototype key',
  post('{"author":"a","body":"b","constructor":{"prototype":{"admin":true}}}'),
  bad(),
);

// Wrong types, missing and extra fields, empty and over-long strings.
for (const [name, value, field] of [
  ['missing author', { body: 'b' }, 'body.author'],
  ['missing body', { author: 'a' }, 'body.body'],
  ['extra field', { author: 'a', body: 'b', admin: true }, 'body.admin'],
  ['client-chosen id', { id: 1, author: 'a', body: 'b' }, 'body.id'],
  ['number author', { author: 7, body: 'b' }, 'body.author'],
  ['boolean body', { author: 'a', body: true }, 'body.body'],
  ['object body', { author: 'a', body: { text: 'b' } }, 'body.body'],
  ['null author', { author: null, body: 'b' }, 'body.author'],
  ['empty author', { author: '', body: 'b' }, 'body.author'],
  ['empty body', { author: 'a', body: '' }, 'body.body'],
  ['author of 65 characters', { author: big(65), body: 'b' }, 'body.author'],
  ['body of 2001 characters', { author: 'a', body: big(2001) }, 'body.body'],
] as const) {
  add('schema', name, post(json(value)), bad(field));
}

// Bodies over the limit: nginx refuses them before the app sees them.
add('body limit', '20 KiB body', post(json({ author: 'a', body: big(20_000) })), { status: 413, kind: 'json-error' });
add(
  'body limit',
  'Content-Length announcing 1 MB',
  Buffer.from(
    'POST /api/posts HTTP/1.1\r\nHost: www.foobar.com\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n{}',
  ),
  { status: 413, kind: 'json-error' },
);
add(
  'body limit',
  'chunked body over 16 KiB',
  Buffer.from(
    `POST /api/posts HTTP/1.1\r\nHost: www.foobar.com\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${(20_000).toString(16)}\r\n${big(20_000)}\r\n0\r\n\r\n`,
  ),
  { status: 413, kind: 'json-error' },
);

// Huge headers, URLs and query strings.
add(
  'huge input',
  '9 KB header on the API',
  buildRequest({ path: '/api/posts', headers: { 'X-Big': big(9_000) } }),
  bad(),
);
add('huge input', '9 KB cookie on a page', buildRequest({ path: '/', headers: { Cookie: `a=${big(9_000)}` } }), {
  status: 400,
  kind: 'html-error',
});
add('huge input', '9 KB URL', buildRequest({ path: `/${big(9_000)}` }), { status: 414, kind: 'html-error' });
add('huge input', '9 KB query string on the API', buildRequest({ path: `/api/posts?q=${big(9_000)}` }), {
  status: 414,
  kind: 'html-error',
});
add(
  'huge input',
  '2 KB query string on the API',
  buildRequest({ path: `/api/posts?limit=1&x=${big(2_000)}` }),
  bad('querystring.x'),
);
add(
  'huge input',
  '200 headers',
  buildRequest({
    path: '/api/health/live',
    headers: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`X-H${i}`, 'v'])),
  }),
  { status: 200, kind: 'json' },
);

// Invalid UTF-8 and NUL bytes.
const invalidUtf8 = Buffer.concat([
  Buffer.from('{"author":"a","body":"'),
  Buffer.from([0xff, 0xfe, 0xc3]),
  Buffer.from('"}'),
]);
add('encoding', 'invalid UTF-8 bytes in the body', post(invalidUtf8), bad('UTF-8'));
add(
  'encoding',
  'overlong UTF-8 encoding of "/"',
  post(Buffer.concat([Buffer.from('{"author":"a","body":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])),
  bad('UTF-8'),
);
add('encoding', 'lone surrogate escape', post('{"author":"a","body":"\\ud800"}'), bad('body.body'));
add('encoding', 'raw NUL byte inside a JSON string', post(Buffer.from('{"author":"a","body":"x\u0000y"}')), bad());
add(
  'encoding',
  'NUL in the request line',
  Buffer.from('GET /api/posts\u0000 HTTP/1.1\r\nHost: www.foobar.com\r\nConnection: close\r\n\r\n'),
  rejectedByNginx,
);
// nginx refuses an encoded NUL in a path before routing, so these get the HTML page.
add('encoding', '%00 as a post id', buildRequest({ path: '/api/posts/%00' }), rejectedByNginx);
add('encoding', '%00 in a static path', buildRequest({ path: '/index.html%00.txt' }), rejectedByNginx);
add(
  'encoding',
  'invalid UTF-8 in the query string',
  buildRequest({ path: '/api/posts?limit=%ff' }),
  bad('querystring.limit'),
);
add(
  'encoding',
  'escaped NUL stored verbatim',
  post(json({ author: 'nul', body: 'a\u0000b' })),
  { status: 201, kind: 'json' },
  { author: 'nul', body: 'a\u0000b' },
);

// SQL and HTML metacharacters: data, never code.
for (const [name, author, body] of [
  ['SQL in the body', 'sql', "'); DROP TABLE posts; --"],
  ['SQL tautology in the author', "x' OR '1'='1", 'b'],
  ['script tag', 'xss', '<script>alert(document.cookie)</script>'],
  ['event handler markup', '<img src=x onerror=alert(1)>', '<svg onload=alert(1)>'],
  ['percent and backslash escapes', 'esc', '%27 %22 \\x27 \\u0027 ${7*7} {{7*7}}'],
] as const) {
  add('metacharacters', name, post(json({ author, body })), { status: 201, kind: 'json' }, { author, body });
}
add(
  'metacharacters',
  'SQL in the before cursor',
  buildRequest({ path: '/api/posts?before=1%20OR%201=1' }),
  bad('querystring.before'),
);
add(
  'metacharacters',
  'SQL in the post id',
  buildRequest({ path: '/api/posts/1;DROP%20TABLE%20posts' }),
  bad('params.id'),
);
add('metacharacters', 'SQL in the limit', buildRequest({ path: '/api/posts?limit=1;--' }), bad('querystring.limit'));

// Path traversal and hidden files on the static side: nothing leaks.
// Paths inside the web root that must not exist there: 404. Paths that climb above the
// root: nginx refuses them outright (400). Either way, nothing leaks.
for (const path of [
  '/.env',
  '/.git/config',
  '/.git/HEAD',
  '/app/',
  '/app/src/server.ts',
  '/db/',
  '/app/migrations/001_create_posts.sql',
  '/nginx/nginx.conf',
  '/package.json',
  '/docker-compose.yml',
  '/errors/404.html',
  '/api/../.env',
  '/api/%2e%2e/.env',
  '//etc/passwd',
]) {
  add('traversal and hidden files', path, buildRequest({ path }), notFoundPage);
}
for (const path of [
  '/../../etc/passwd',
  '/assets/../../../../etc/passwd',
  '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  '/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  '/.%2e/.%2e/etc/passwd',
]) {
  add('traversal and hidden files', path, buildRequest({ path }), rejectedByNginx);
}

// Wrong methods: 405 with Allow.
for (const [method, path, kind] of [
  ['DELETE', '/api/posts/1', 'json-error'],
  ['PUT', '/api/posts', 'json-error'],
  ['PATCH', '/api/posts/1', 'json-error'],
  ['OPTIONS', '/api/posts', 'json-error'],
  ['DELETE', '/api/health/live', 'json-error'],
  ['POST', '/', 'html-error'],
  ['POST', '/assets/app.js', 'html-error'],
  ['PUT', '/index.html', 'html-error'],
] as const) {
  add('methods', `${method} ${path}`, buildRequest({ method, path, body: method === 'OPTIONS' ? undefined : '{}' }), {
    status: 405,
    kind,
  });
}
add('methods', 'TRACE /', buildRequest({ method: 'TRACE', path: '/' }), { status: 405, kind: 'html-error' });

// Wrong or missing Content-Type.
const valid = json({ author: 'ct', body: 'b' });
for (const [name, contentType] of [
  ['text/plain', 'text/plain'],
  ['form-urlencoded', 'application/x-www-form-urlencoded'],
  ['multipart/form-data', 'multipart/form-data; boundary=x'],
  ['application/jsonx', 'application/jsonx'],
  ['missing Content-Type', null],
] as const) {
  add('content type', name, post(valid, { contentType }), {
    status: 415,
    kind: 'json-error',
    mentions: 'application/json',
  });
}

// Protocol corner cases: HTTP/1.0, absolute-form request lines, smuggling.
add('protocol', 'HTTP/1.0 without Host', buildRequest({ version: 'HTTP/1.0', host: null, path: '/' }), {
  status: 421,
  kind: 'json-error',
});
add('protocol', 'HTTP/1.0 with Host', buildRequest({ version: 'HTTP/1.0', path: '/api/health/live' }), {
  status: 200,
  kind: 'json',
});
add('protocol', 'absolute-form request line', buildRequest({ path: 'http://www.foobar.com/api/health/live' }), {
  status: 200,
  kind: 'json',
});
add('protocol', 'absolute-form naming another host', buildRequest({ path: 'http://evil.example/api/health/live' }), {
  status: 421,
  kind: 'json-error',
});
add('protocol', 'unknown Host', buildRequest({ host: 'evil.example', path: '/api/posts' }), {
  status: 421,
  kind: 'json-error',
});
add('protocol', 'two Host headers', buildRequest({ path: '/', headers: { Host: 'evil.example' } }), {
  status: 400,
  kind: 'html-error',
});
add(
  'protocol',
  'Content-Length and Transfer-Encoding together (smuggling)',
  Buffer.from(
    'POST /api/posts HTTP/1.1\r\nHost: www.foobar.com\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
  ),
  { status: 400, kind: 'json-error' },
);
add('protocol', 'garbage request line', Buffer.from('HELLO THERE\r\n\r\n'), rejectedByNginx);
add('protocol', 'unknown method on the API', buildRequest({ method: 'BREW', path: '/api/posts' }), {
  status: [400, 405],
  kind: 'json-error',
});

export const corpus: readonly HostileCase[] = cases;
