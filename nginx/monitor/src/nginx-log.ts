import { open } from 'node:fs/promises';

/** One request as nginx logged it for the monitor (log_format status_line, nginx/conf.d/status.conf). */
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

/** One status_line: `msec|status|request_time|upstream_connect|upstream_header|id|method|uri`. */
export function parseNginxLine(line: string): NginxRequest | undefined {
  const fields = line.split('|');
  if (fields.length < 8) return undefined;
  const [msec, status, request, connect, header, id, method, ...uri] = fields;
  const at = Number(msec) * 1000;
  if (!Number.isFinite(at) || !/^\d{3}$/.test(status as string)) return undefined;
  return {
    at,
    status: Number(status),
    requestMs: Number(request) * 1000,
    upstreamConnectMs: seconds(connect),
    upstreamHeaderMs: seconds(header),
    id: id as string,
    method: method as string,
    // The URI comes last and may itself hold "|".
    uri: uri.join('|'),
  };
}

/** Most bytes one read takes in; a bigger backlog is read over the next ticks. */
const MAX_READ_BYTES = 8 * 1024 * 1024;

/**
 * Follows nginx's status log: each `read()` returns the whole lines appended since the last
 * one, and empties the file once it has read past `truncateAt` bytes. nginx opens the log
 * with O_APPEND, so after the truncation its next write lands at the new end (offset 0)
 * without a gap. A write that lands between the last check of the size and the truncation
 * is lost: whole lines (nginx writes a buffer in one write()), at most one 64 KiB buffer
 * of each worker, missing from the monitor's counts only.
 */
export class StatusLogReader {
  private offset = 0;
  private partial = '';
  private started = false;

  constructor(
    private readonly file: string,
    private readonly truncateAt: number,
  ) {}

  async read(): Promise<string[]> {
    let handle;
    try {
      // Read-write: truncating needs it.
      handle = await open(this.file, 'r+');
    } catch (err) {
      // nginx creates it at its start; until then there is nothing to read.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    try {
      const { size } = await handle.stat();
      if (!this.started) {
        // What is there is from before this process: its counts start now.
        this.started = true;
        this.offset = size;
      }
      if (size < this.offset) {
        // Emptied by someone else (or a new file): start again from its beginning. Seen only
        // while it is shorter than what was read; nothing but this reader empties it.
        this.offset = 0;
        this.partial = '';
      }
      const length = Math.min(size - this.offset, MAX_READ_BYTES);
      const lines: string[] = [];
      if (length > 0) {
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buffer, 0, length, this.offset);
        this.offset += bytesRead;
        const parts = (this.partial + buffer.toString('utf8', 0, bytesRead)).split('\n');
        // The last part is empty after a whole line, else a line still being written.
        this.partial = parts.pop() ?? '';
        lines.push(...parts);
      }
      // Only between whole lines (the rest of a partial line would otherwise start the file),
      // and only if nothing came since the read: that narrows the loss to one syscall's time.
      if (this.offset >= this.truncateAt && this.partial === '' && (await handle.stat()).size === this.offset) {
        await handle.truncate(0);
        this.offset = 0;
      }
      return lines;
    } finally {
      await handle.close();
    }
  }
}

/**
 * nginx's recent requests, the last `capacity` of them in the order they ended: the
 * per-status counts, rates and latencies of nginx, and each request's hop timings.
 */
export class NginxLog {
  private readonly recent: NginxRequest[] = [];
  private readonly byId = new Map<string, NginxRequest>();

  constructor(
    private readonly capacity: number,
    private readonly onRequest: (request: NginxRequest) => void,
  ) {}

  /** Adds the requests of the lines that parse; returns how many did. */
  addLines(lines: string[]): number {
    let added = 0;
    for (const line of lines) {
      const request = parseNginxLine(line);
      if (!request) continue;
      this.insert(request);
      added++;
    }
    // Once per batch: shifting one at a time would move the whole array (too big for
    // V8 to trim in place) for every request.
    const excess = this.recent.length - this.capacity;
    if (excess > 0) {
      for (const dropped of this.recent.splice(0, excess)) {
        if (this.byId.get(dropped.id) === dropped) this.byId.delete(dropped.id);
      }
    }
    return added;
  }

  private insert(request: NginxRequest): void {
    // Each worker flushes its own buffer: a batch may end before the previous one did.
    let i = this.recent.length;
    while (i > 0 && (this.recent[i - 1] as NginxRequest).at > request.at) i--;
    if (i === this.recent.length) this.recent.push(request);
    else this.recent.splice(i, 0, request);
    this.byId.set(request.id, request);
    this.onRequest(request);
  }

  /** Requests that ended in (from, to]. */
  between(from: number, to: number): NginxRequest[] {
    let end = this.recent.length;
    while (end > 0 && (this.recent[end - 1] as NginxRequest).at > to) end--;
    let start = end;
    while (start > 0 && (this.recent[start - 1] as NginxRequest).at > from) start--;
    return this.recent.slice(start, end);
  }

  /** The last `count` requests to end. */
  latest(count: number): NginxRequest[] {
    return this.recent.slice(-count);
  }

  get(id: string): NginxRequest | undefined {
    return this.byId.get(id);
  }
}
