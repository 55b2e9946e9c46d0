import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';

/**
 * Where a request goes on 127.0.0.1: a port spoken to in plain HTTP, or nginx's HTTPS
 * port with the CA that must have signed its certificate (verified, SNI from the Host);
 * `address` instead of 127.0.0.1 for a test's own simulated server (test/vps).
 */
export type Endpoint = number | { port: number; ca: string | Buffer; address?: string };

export const portOf = (endpoint: Endpoint) => (typeof endpoint === 'number' ? endpoint : endpoint.port);

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body as it came, e.g. still compressed when the request accepted gzip. */
  bytes: Buffer;
  json<T = any>(): T;
}

export interface HttpRequest {
  method?: string;
  host?: string;
  headers?: Record<string, string>;
  body?: string | object;
  timeoutMs?: number;
  /** TLS server name (SNI) when it must differ from the Host header's name. */
  servername?: string;
  /** A keep-alive agent to reuse connections (an https.Agent for HTTPS); without one, each request has its own. */
  agent?: http.Agent;
}

/** The TLS server name for a Host header: without its port, and none for an IP address (RFC 6066). */
export const sniName = (host: string) => {
  const name = host.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return isIP(name) ? '' : name;
};

/**
 * Whether a request failed before its connection was made (for HTTPS, before the TLS
 * handshake completed), so the server cannot have seen it: another address may be tried.
 * A request on a reused keep-alive connection never counts as such.
 */
export const neverConnected = (err: unknown) => (err as { neverConnected?: boolean }).neverConnected === true;

/**
 * One HTTP(S) request to 127.0.0.1 with full control of the Host header (fetch does
 * not allow setting it). A new connection each time, so tests never share keep-alive,
 * unless an agent is given.
 */
export function request(endpoint: Endpoint, path: string, options: HttpRequest = {}): Promise<HttpResponse> {
  const port = portOf(endpoint);
  const {
    method = 'GET',
    host = 'www.foobar.com',
    headers = {},
    body,
    timeoutMs = 10_000,
    agent,
    servername,
  } = options;
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const allHeaders: Record<string, string> = { host, ...(agent ? {} : { connection: 'close' }), ...headers };
  if (payload !== undefined && typeof body === 'object') allHeaders['content-type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const address = typeof endpoint === 'number' ? '127.0.0.1' : (endpoint.address ?? '127.0.0.1');
    const target = { host: address, port, path, method, headers: allHeaders, timeout: timeoutMs, agent };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, bytes, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    };
    const req =
      typeof endpoint === 'number'
        ? http.request(target, onResponse)
        : https.request({ ...target, ca: endpoint.ca, servername: servername ?? sniName(host) }, onResponse);
    // Whether a connection (a TLS session, for HTTPS) was made: without one, nothing was sent.
    let connected = false;
    req.on('socket', (socket) => {
      if (agent) connected = true;
      else socket.once(typeof endpoint === 'number' ? 'connect' : 'secureConnect', () => (connected = true));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${address}:${port}${path} in ${timeoutMs} ms`)));
    req.on('error', (err) => reject(connected ? err : Object.assign(err, { neverConnected: true })));
    req.end(payload);
  });
}
