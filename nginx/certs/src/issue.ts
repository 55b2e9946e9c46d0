// The cluster's issuer: one ACME order, then exit. scripts/cluster runs it as a one-off
// Swarm job on the manager, whose certificate folder it writes (the same store as one
// server's certs service). Every edge nginx proxies /.well-known/acme-challenge/ to this
// task over the overlay network, so the CA may validate through whichever edge it reaches;
// each edge is probed before the order, so a broken one fails here, not at the CA.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { lookup } from 'node:dns/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { configureDirectoryHttp, issueAcme } from './acme.js';
import { certInfo } from './cert-info.js';
import { acmeDirectory, loadConfig } from './config.js';
import { siteNames } from './domain.js';
import { challengeDir, probeChallengePath } from './probe.js';
import { CertStore } from './store.js';

const TOKEN = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/;

// Stopped half-way (the job removed): nothing to finish, an order is simply placed again.
process.on('SIGTERM', () => process.exit(1));
const config = loadConfig();
const log = pino({ level: config.LOG_LEVEL, base: { service: 'certs-issuer' } });
const directory = acmeDirectory(config);
if (!directory) throw new Error('the issuer needs ACME_DIRECTORY or ACME_EMAIL');
if (!config.EDGE_TASKS) throw new Error('the issuer needs EDGE_TASKS, the DNS name of the edge nginx tasks');
configureDirectoryHttp(
  config.ACME_HTTP_TIMEOUT_SECONDS * 1000,
  config.ACME_HTTP_RETRIES,
  config.ACME_DIRECTORY_CA || undefined,
);
const names = siteNames(config.SITE_DOMAIN);

// The answers the edges fetch on the CA's behalf: the files issueAcme writes, nothing else.
const server = http.createServer((req, res) => {
  const token = TOKEN.exec(req.url ?? '')?.[1];
  const answer = token ? readFile(join(challengeDir(config.ACME_WEBROOT), token), 'utf8') : Promise.reject();
  answer.then(
    (body) => res.writeHead(200, { 'content-type': 'text/plain' }).end(body),
    () => res.writeHead(404).end(),
  );
});
await new Promise<void>((resolve) => server.listen(config.ISSUER_PORT, resolve));

const edges = (await lookup(config.EDGE_TASKS, { all: true, family: 4 })).map((entry) => entry.address);
for (const edge of edges) await probeChallengePath(config.ACME_WEBROOT, `http://${edge}:80`, names.canonical);
log.info({ step: 'webroot-probe', edges }, 'every edge serves the challenge path');

const store = new CertStore(config.CERTS_DIR, config.HSTS_MAX_AGE);
const cert = await issueAcme(
  store,
  {
    directoryUrl: directory,
    email: config.ACME_EMAIL || undefined,
    names: [names.canonical, names.apex],
    webroot: config.ACME_WEBROOT,
  },
  log,
);
await store.install(cert);
const info = certInfo(cert.fullchain);
log.info(
  { step: 'installed', kind: cert.kind, names: info.names, issuer: info.issuer, notAfter: info.notAfter },
  'new certificate in the store; scripts/cluster rolls it out',
);
// Sockets the CA's client and the probes keep alive would hold the process for minutes.
process.exit(0);
