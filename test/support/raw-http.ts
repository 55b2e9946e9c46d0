import net from 'node:net';
import tls from 'node:tls';
import { portOf, type Endpoint } from '../../scripts/tool/core/http.js';

export interface RawResponse {
  /** 0 when the server closed the connection without answering. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from connecting until the server closed the connection. */
  closedAfterMs: number;
}

export interface RawOptions {
  timeoutMs?: number;
  /** Sent after the request bytes, one at a time with a pause between: a slow client. */
  trickle?: { bytes: Buffer | string; intervalMs: number };
  /** TLS server name (SNI) on an HTTPS endpoint; www.foobar.com unless given. */
  servername?: string;
}

function decodeChunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    const lineEnd = body.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = Number.parseInt(body.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

export function parseResponse(raw: Buffer): Omit<RawResponse, 'closedAfterMs'> {
  const headerEnd = raw.indexOf('\r\n\r\n');
  if (raw.length === 0 || headerEnd < 0) return { status: 0, headers: {}, body: raw.toString('utf8') };
  const [statusLine = '', ...lines] = raw.subarray(0, headerEnd).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(headerEnd + 4);
  if (headers['transfer-encoding']?.includes('chunked')) body = decodeChunked(body);
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: body.toString('utf8') };
}

/**
 * Sends bytes exactly as given over a new TCP connection to 127.0.0.1:port and reads
 * until the server closes it (requests should say "Connection: close"), so malformed
 * requests that HTTP clients refuse to send can be sent.
 */
export function rawRequest(endpoint: Endpoint, data: Buffer | string, options: RawOptions = {}): Promise<RawResponse> {
  const { timeoutMs = 15_000, trickle, servername = 'www.foobar.com' } = options;
  const port = portOf(endpoint);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    // Over TLS the bytes go inside the encrypted stream, after a verified handshake.
    const socket =
      typeof endpoint === 'number'
        ? net.connect({ host: '127.0.0.1', port })
        : tls.connect({ host: '127.0.0.1', port, ca: endpoint.ca, servername });
    const ready = typeof endpoint === 'number' ? 'connect' : 'secureConnect';
    let timer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw request to port ${port} still open after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on(ready, () => {
      socket.write(data);
      if (trickle) {
        const bytes = Buffer.from(trickle.bytes);
        let sent = 0;
        timer = setInterval(() => {
          if (sent >= bytes.length || socket.destroyed) return clearInterval(timer);
          socket.write(bytes.subarray(sent, sent + 1));
          sent++;
        }, trickle.intervalMs);
      }
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A reset after the answer (nginx resets timed-out connections) still counts as closed.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(deadline);
      clearInterval(timer);
      resolve({ ...parseResponse(Buffer.concat(chunks)), closedAfterMs: Date.now() - started });
    });
  });
}

export interface RequestParts {
  method?: string;
  path?: string;
  host?: string | null;
  version?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  contentType?: string | null;
}

/** An HTTP/1.x request as bytes; `host: null` leaves the Host header out. */
export function buildRequest(parts: RequestParts = {}): Buffer {
  const { method = 'GET', path = '/', host = 'www.foobar.com', version = 'HTTP/1.1', headers = {}, body } = parts;
  const contentType = parts.contentType === undefined && body !== undefined ? 'application/json' : parts.contentType;
  const payload = body === undefined ? undefined : Buffer.from(body);
  const lines = [`${method} ${path} ${version}`];
  if (host !== null) lines.push(`Host: ${host}`);
  if (contentType) lines.push(`Content-Type: ${contentType}`);
  if (payload) lines.push(`Content-Length: ${payload.length}`);
  lines.push('Connection: close', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`));
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload ?? Buffer.alloc(0)]);
}
