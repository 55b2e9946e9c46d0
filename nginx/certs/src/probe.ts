// Before an ACME order: a file put where the HTTP-01 answers go must come back through
// nginx's port 80, or the CA would fail the validation (and count it against the site).
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';

/** The folder under a webroot where HTTP-01 answers are served from. */
export const challengeDir = (webroot: string) => join(webroot, '.well-known', 'acme-challenge');

/**
 * Writes a probe file into `webroot`'s challenge folder and fetches it through `baseUrl`
 * (nginx's port 80) for the site's `hostName`; throws saying what nginx answered instead.
 */
export async function probeChallengePath(webroot: string, baseUrl: string, hostName: string): Promise<void> {
  const dir = challengeDir(webroot);
  const token = `probe-${randomBytes(12).toString('hex')}`;
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await writeFile(join(dir, token), token, { mode: 0o644 });
  try {
    const url = new URL(`/.well-known/acme-challenge/${token}`, baseUrl);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get(url, { headers: { host: hostName }, timeout: 5_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
      req.on('error', reject);
    });
    if (answer.status !== 200 || answer.body !== token)
      throw new Error(
        `nginx at ${url.host} answered ${answer.status} for the challenge path instead of the file (is nginx up, serving the challenge files?)`,
      );
  } catch (err) {
    if ((err as Error).message.startsWith('nginx at ')) throw err;
    throw new Error(`nginx at ${baseUrl} did not answer the challenge path: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    await rm(join(dir, token), { force: true });
  }
}
