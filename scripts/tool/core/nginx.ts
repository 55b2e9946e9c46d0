import type Docker from 'dockerode';
import { execOk } from './docker.js';

/*
 * Which app port nginx proxies to is switched by one command shipped in the nginx image
 * (nginx/switch-upstream.sh): it writes the upstream file, checks it with `nginx -t`
 * (restoring the old one on failure), reloads gracefully and waits until every old
 * worker has exited, so nothing still holds a keep-alive connection to the old app.
 */

/** The app port nginx sends /api/ to, as its upstream file says. */
export async function liveAppPort(nginx: Docker.Container): Promise<number> {
  const port = Number((await execOk(nginx, ['switch-upstream', '--show'])).trim());
  if (!Number.isInteger(port)) throw new Error(`switch-upstream --show printed no port`);
  return port;
}

/** Points nginx at the app on 127.0.0.1:`port`; resolves once the old workers have drained. */
export async function switchUpstream(nginx: Docker.Container, port: number): Promise<string> {
  return (await execOk(nginx, ['switch-upstream', String(port)])).trim();
}
