import http from 'node:http';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = any>(): T;
}

export interface HttpRequest {
  method?: string;
  host?: string;
  headers?: Record<string, string>;
  body?: string | object;
  timeoutMs?: number;
  /** A keep-alive agent to reuse connections; without one, each request has its own. */
  agent?: http.Agent;
}

/**
 * One HTTP request to 127.0.0.1:port with full control of the Host header (fetch does
 * not allow setting it). A new connection each time, so tests never share keep-alive,
 * unless an agent is given.
 */
export function request(port: number, path: string, options: HttpRequest = {}): Promise<HttpResponse> {
  const { method = 'GET', host = 'www.foobar.com', headers = {}, body, timeoutMs = 10_000, agent } = options;
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const allHeaders: Record<string, string> = { host, ...(agent ? {} : { connection: 'close' }), ...headers };
  if (payload !== undefined && typeof body === 'object') allHeaders['content-type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method, headers: allHeaders, timeout: timeoutMs, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from 127.0.0.1:${port}${path} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
