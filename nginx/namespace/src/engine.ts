import { request } from 'node:http';

/** The Docker Engine API over its Unix socket: the few calls this program makes, no client library. */
export class Engine {
  constructor(private readonly socketPath: string) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post(path: string): Promise<unknown> {
    return this.call('POST', path);
  }

  private call<T>(method: string, path: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method, path, headers: { host: 'docker' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 300) reject(new Error(`${method} ${path}: HTTP ${status} ${body.trim()}`));
          else resolve((body ? JSON.parse(body) : undefined) as T);
        });
      });
      req.on('error', reject);
      req.end();
    });
  }
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Labels: Record<string, string>;
  HostConfig: { NetworkMode: string };
}

export interface ContainerDetails {
  Id: string;
  Name: string;
  State: { Running: boolean; StartedAt: string };
}
