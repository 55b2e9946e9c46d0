import type Docker from 'dockerode';
import { execOk, publishedPort, serviceContainer } from './docker.js';

/** Where the local CA's certificate lives in the certs service (its volume). */
export const LOCAL_CA_FILE = '/certs/local-ca/ca.pem';

/**
 * The site as a client on this host reaches it: nginx's published HTTPS port on 127.0.0.1,
 * with the stack's local CA to verify its certificate against (read from the certs service).
 */
export async function siteEndpoint(project: string, server?: Docker.Container): Promise<{ port: number; ca: string }> {
  const port = await publishedPort(server ?? (await serviceContainer(project, 'server')), 443);
  const ca = await execOk(await serviceContainer(project, 'certs'), ['cat', LOCAL_CA_FILE]);
  return { port, ca };
}
