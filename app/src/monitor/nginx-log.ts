import { createSocket, type Socket } from 'node:dgram';

/** One request as nginx logged it to the monitor (log_format status_udp, nginx/conf.d/status.conf). */
export interface NginxRequest {
  at: number;
  status: number;
  requestMs: number;
  upstreamConnectMs?: number;
  upstreamHeaderMs?: number;
  id: string;
  method: string;
  uri: string;
}

const seconds = (text: string | undefined) => {
  // "-" when nginx did not go upstream; "0.001, 0.002" when it tried twice and "0.001 : -"
  // across an internal redirect (the last one counts).
  const last = text?.split(/[,:]/).at(-1)?.trim();
  return last && last !== '-' ? Number(last) * 1000 : undefined;
};

/** The log line inside a syslog datagram: `<PRI>Mmm dd hh:mm:ss nginx: LINE`. */
export function parseNginxDatagram(message: string, at: number): NginxRequest | undefined {
  const line = /^<\d+>[^:]*\d\d:\d\d:\d\d \S+: (.*)$/s.exec(message)?.[1];
  const fields = line?.split('|');
  if (!fields || fields.length < 7) return undefined;
  const [status, request, connect, header, id, method, ...uri] = fields;
  return {
    at,
    status: Number(status),
    requestMs: Number(request) * 1000,
    upstreamConnectMs: seconds(connect),
    upstreamHeaderMs: seconds(header),
    id: id as string,
    method: method as string,
    uri: uri.join('|'),
  };
}

/**
 * Receives nginx's per-request datagrams on loopback and keeps the last `capacity` of
 * them: the per-status counts, rates and latencies of nginx, and each request's
 * hop timings, without reading or parsing the access log.
 */
export class NginxLog {
  private readonly recent: NginxRequest[] = [];
  private readonly byId = new Map<string, NginxRequest>();
  private socket?: Socket;

  constructor(
    private readonly capacity: number,
    private readonly onRequest: (request: NginxRequest) => void,
  ) {}

  async listen(port: number, host = '127.0.0.1'): Promise<void> {
    const socket = createSocket('udp4');
    socket.on('message', (message) => {
      const request = parseNginxDatagram(message.toString('utf8'), Date.now());
      if (request) this.add(request);
    });
    this.socket = socket;
    await new Promise<void>((resolve) => socket.bind(port, host, resolve));
  }

  add(request: NginxRequest): void {
    this.recent.push(request);
    this.byId.set(request.id, request);
    if (this.recent.length > this.capacity) {
      const dropped = this.recent.shift() as NginxRequest;
      if (this.byId.get(dropped.id) === dropped) this.byId.delete(dropped.id);
    }
    this.onRequest(request);
  }

  /** Requests that ended within the last `ms` milliseconds. */
  since(ms: number, now = Date.now()): NginxRequest[] {
    const from = now - ms;
    let i = this.recent.length;
    while (i > 0 && (this.recent[i - 1] as NginxRequest).at >= from) i--;
    return this.recent.slice(i);
  }

  get(id: string): NginxRequest | undefined {
    return this.byId.get(id);
  }

  close(): void {
    this.socket?.close();
  }
}
