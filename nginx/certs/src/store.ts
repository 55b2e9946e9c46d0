// The certificate volume. Each certificate is written whole into its own release folder,
// then "current" (a symlink nginx reads through) is switched to it with one rename, so
// nginx never sees a key from one certificate with the chain of another. Everything is
// mode 600 (owner only): nginx's master process, the same user, reads it before dropping
// privileges. All but state.json, which holds no secret: the monitor (another user) reads
// its failed renewals for an alert.
import { mkdir, readFile, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type CertKind = 'local' | 'acme';

export interface Installed {
  kind: CertKind;
  /** The leaf certificate followed by its chain. */
  fullchain: string;
  key: string;
}

export interface StoredState {
  mode: 'local' | 'acme';
  failures: number;
  lastAttempt?: string;
  lastError?: string;
  nextAttempt?: string;
  lastIssued?: string;
}

const FILE_MODE = 0o600;
const PUBLIC_MODE = 0o644;
const KEEP_RELEASES = 3;

/** Splits a PEM bundle into its certificates, leaf first. */
export const pemCertificates = (bundle: string) =>
  bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

export class CertStore {
  constructor(
    readonly dir: string,
    private readonly hstsMaxAge: number,
  ) {}

  private path = (...parts: string[]) => join(this.dir, ...parts);

  async read(...parts: string[]): Promise<string | undefined> {
    try {
      return await readFile(this.path(...parts), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async write(parts: string[], content: string, mode = FILE_MODE): Promise<void> {
    const file = this.path(...parts);
    await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
    // A new file each time: writeFile sets the mode only on one it creates.
    await rm(`${file}.tmp`, { force: true });
    await writeFile(`${file}.tmp`, content, { mode });
    await rename(`${file}.tmp`, file);
  }

  async current(): Promise<Installed | undefined> {
    const [fullchain, key, kind] = await Promise.all([
      this.read('current', 'fullchain.pem'),
      this.read('current', 'privkey.pem'),
      this.read('current', 'kind'),
    ]);
    if (!fullchain || !key) return undefined;
    return { fullchain, key, kind: kind?.trim() === 'acme' ? 'acme' : 'local' };
  }

  /** Writes a release and switches "current" to it atomically; nginx's watcher reloads. */
  async install(cert: Installed): Promise<void> {
    const name = `release-${new Date().toISOString().replace(/[:.]/g, '')}`;
    const [, ...chain] = pemCertificates(cert.fullchain);
    // HSTS only for a certificate browsers trust without help (not the local CA's).
    const hsts = cert.kind === 'acme' ? `https "max-age=${this.hstsMaxAge}"` : '';
    await this.write([name, 'fullchain.pem'], cert.fullchain);
    await this.write([name, 'privkey.pem'], cert.key);
    await this.write([name, 'chain.pem'], chain.length > 0 ? `${chain.join('\n')}\n` : cert.fullchain);
    await this.write([name, 'kind'], `${cert.kind}\n`);
    await this.write(
      [name, 'hsts.conf'],
      `# Written by the certs service: HSTS is sent only with a publicly trusted certificate.\nmap $scheme $hsts_header {\n    ${hsts ? `${hsts};\n    ` : ''}default "";\n}\n`,
    );
    await rm(this.path('current.next'), { force: true });
    await symlink(name, this.path('current.next'));
    await rename(this.path('current.next'), this.path('current'));
    await this.prune(name);
  }

  private async prune(keep: string): Promise<void> {
    const releases = (await readdir(this.dir)).filter((entry) => entry.startsWith('release-')).sort();
    const live = await readlink(this.path('current')).catch(() => keep);
    for (const old of releases.slice(0, -KEEP_RELEASES))
      if (old !== live) await rm(this.path(old), { recursive: true, force: true });
  }

  async state(): Promise<StoredState | undefined> {
    const text = await this.read('state.json');
    return text ? (JSON.parse(text) as StoredState) : undefined;
  }

  saveState = (state: StoredState) => this.write(['state.json'], `${JSON.stringify(state, null, 2)}\n`, PUBLIC_MODE);
}
