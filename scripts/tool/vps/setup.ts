// scripts/vps setup: a fresh Debian/Ubuntu server to the live site, in named steps. Every
// step checks before it changes, so a second run changes nothing and says so. Nothing is
// changed on the server until the checks that can refuse (reachable, OS, DNS) have passed.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { servedCertificate } from '../cert/status.js';
import { appMigrations } from '../core/app.js';
import { ensureBaseImages } from '../core/base-images.js';
import { compose, composeSettings, runningServices } from '../core/compose.js';
import { serviceContainer } from '../core/docker.js';
import { BUILT_SERVICES, imagesOf } from '../core/env.js';
import { REPO_ROOT } from '../core/paths.js';
import { stepper, type Log, type Stepper } from '../core/steps.js';
import { GiveUp, waitFor } from '../core/wait.js';
import { dnsCheck } from '../dns/commands.js';
import { deploy } from '../local/deploy.js';
import { shipImages } from '../remote/ship.js';
import { asRoot, hostLabel, shellQuote, sshOk, sshRun, type Host } from '../remote/ssh.js';
import { parseFacts, setupProblems, type ServerFacts } from './facts.js';
import { BACKUP_SERVICE, backupImage, BINLOG_GRANT } from './backups.js';
import {
  BACKUP_COMPOSE_FILE,
  nginxSettings,
  onServerEngine,
  outcomes,
  progressTo,
  RELEASE_FILES,
  recordEvent,
  remoteCompose,
  runScript,
  shipFiles,
  STACK_DIR,
  PROJECT,
  withServerLock,
} from './server.js';
import { liveAs } from './releases.js';
import { droppedSettings, envSettings, type SiteSettings } from './settings.js';
import { checkSite } from './site-check.js';

const run = promisify(execFile);

export interface SetupOptions extends Omit<SiteSettings, 'serverIpv4'> {
  host: Host;
  /** The server's public IPv4 address; default: the address SSH reached it at. */
  ipv4?: string;
  /** host[:port] of a registry both machines reach; default: images stream over SSH. */
  registry?: string;
  /** Compress the image stream over SSH (default true). */
  compress?: boolean;
  /** How long to wait for the ACME certificate. */
  certTimeoutMs?: number;
  /** The deployment file the settings came from, named when a setting is dropped. */
  settingsFile?: string;
  /** Restart the database when a changed setting needs it (--restart-db), without asking. */
  restartDatabase?: boolean;
  /** Asks the operator (a terminal); without it and without restartDatabase, such a change is refused. */
  confirm?(question: string): Promise<boolean>;
  /** Environment for building the images here (IMAGE_TAG, base images). */
  env: NodeJS.ProcessEnv;
  log?: Log;
}

export interface SetupResult {
  changes: string[];
  url: string;
  totalMs: number;
}

/**
 * compose needs the passwords to read docker-compose.yml at all; building uses none of
 * them, and the real ones exist only on the server.
 */
export const buildEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
  MYSQL_PASSWORD: 'not-used-by-builds',
  MYSQL_ROOT_PASSWORD: 'not-used-by-builds',
  ...env,
});

async function localArch(): Promise<string> {
  const { stdout } = await run('docker', ['version', '--format', '{{.Server.Arch}}']);
  return stdout.trim();
}

/** Facts, then every reason to refuse; throws before anything on the server changed. */
async function checkServer(host: Host): Promise<ServerFacts> {
  const facts = parseFacts(await runScriptAsUser(host));
  const problems = setupProblems(facts, await localArch());
  if (problems.length > 0) {
    throw new Error(
      `cannot set up ${hostLabel(host)}:\n  - ${problems.join('\n  - ')}\nnothing was changed on the server`,
    );
  }
  return facts;
}

/** facts.sh runs as the login user (it must also work where sudo does not). */
function runScriptAsUser(host: Host): Promise<string> {
  const text = readFileSync(new URL('./server/facts.sh', import.meta.url), 'utf8');
  return sshOk(host, 'bash -s', { stdin: text, timeoutMs: 60_000 });
}

const changeCount = (n: number) => `${n} change${n === 1 ? '' : 's'}`;

/** What compose reports for each service on the server: running and healthy, or not. */
export async function serviceStates(host: Host): Promise<Array<{ service: string; state: string; health: string }>> {
  const out = await remoteCompose(host)(PROJECT, ['ps', '--all', '--format', 'json'], {});
  return out
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => {
      const row = JSON.parse(line) as { Service: string; State: string; Health?: string };
      return { service: row.Service, state: row.State, health: row.Health ?? '' };
    });
}

/** How long a service the stack no longer names may take to end what it is doing (a backup). */
const DROPPED_STOP_SECONDS = 120;

/** What compose would do to the stack's services for this run's files and .env. */
interface ServiceChanges {
  /** Running services whose configuration (compose's config hash) or image changed. */
  replaced: string[];
  /** Services the files now name that have no container yet (backups turned on). */
  added: string[];
  /** Services with a container that the files no longer name (backups turned off). */
  dropped: string[];
}

async function serviceChanges(host: Host): Promise<ServiceChanges> {
  const wanted = await remoteCompose(host)(PROJECT, ['config', '--hash', '*'], {});
  const present = await sshOk(
    host,
    asRoot(
      host,
      `for c in $(docker ps -aq --filter label=com.docker.compose.project=${PROJECT}); do ` +
        `docker inspect --format '{{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "com.docker.compose.config-hash"}} {{.State.Running}} {{.Image}} {{.Config.Image}}' "$c"; ` +
        `done | while read -r service hash running image ref; do ` +
        `echo "$service $hash $running $([ "$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null)" = "$image" ] && echo same || echo new)"; done`,
    ),
  );
  const hashes = new Map(
    wanted
      .trim()
      .split('\n')
      .map((line) => line.split(' ') as [string, string]),
  );
  const containers = present
    .trim()
    .split('\n')
    .map((line) => line.split(' '))
    .filter(([service]) => service);
  const withContainer = new Set(containers.map(([service]) => service!));
  return {
    replaced: containers
      .filter(
        ([service, hash, running, image]) =>
          running === 'true' && hashes.has(service!) && (hashes.get(service!) !== hash || image === 'new'),
      )
      .map(([service]) => service!),
    added: [...hashes.keys()].filter((service) => !withContainer.has(service)),
    dropped: [...withContainer].filter((service) => !hashes.has(service)),
  };
}

/** The flag that lets setup restart the database for a changed setting. */
const RESTART_DB_FLAG = '--restart-db';

async function stackHealthy(host: Host): Promise<boolean> {
  const states = await serviceStates(host).catch(() => []);
  // Every service that keeps running but the namespace owner, which host networking leaves unstarted.
  return runningServices()
    .filter((service) => service !== 'server')
    .every((service) => states.some((s) => s.service === service && s.state === 'running' && s.health === 'healthy'));
}

export async function setup(options: SetupOptions): Promise<SetupResult> {
  const { host, log = console.log } = options;
  const label = hostLabel(host);
  const step = stepper(log);
  const changes: string[] = [];
  const report = (output: string) => {
    const { ok, changed, removed } = outcomes(output);
    for (const line of ok) log(`  ok: ${line}`);
    for (const line of changed) log(`  changed: ${line}`);
    if (removed.length > 0) log(`  ${droppedSettings(removed, options.settingsFile)}`);
    changes.push(...changed);
  };
  /**
   * What this run's .env and nginx.env replaced, back: a refused change leaves the server as it
   * was. Copied into the files, not renamed over them: nginx's container has nginx.env mounted.
   */
  const putBack = () =>
    sshOk(
      host,
      asRoot(
        host,
        `cd ${STACK_DIR} && for f in .env nginx.env; do [ ! -f "$f.previous" ] || { cat "$f.previous" >"$f" && rm "$f.previous"; }; done`,
      ),
    );

  // The app's choice is checked before the server is touched: a wrong one changes nothing.
  const migrations = appMigrations(options.env, REPO_ROOT);
  const facts = await step(`checking ${label}: SSH, operating system, sudo, disk`, () => checkServer(host));
  log(`  ${facts.osName}, ${facts.arch}, ${facts.diskFreeMb} MB free, ${facts.memoryMb} MB memory`);
  const ipv4 = options.ipv4 ?? facts.sshAddress;
  const settings: SiteSettings = { ...options, serverIpv4: ipv4 };

  await step(`checking that DNS for ${options.domain} points at ${ipv4}`, async () => {
    const { ok, report: text } = await dnsCheck({
      domain: options.domain,
      ipv4,
      resolver: options.dnsResolver,
      caa: options.caaIdentity,
    });
    if (!ok) {
      throw new Error(
        `${text}\nnothing was changed on the server: set the records that "scripts/dns records --ipv4 ${ipv4} --domain ${options.domain}" prints at your DNS provider, wait until they resolve, then run setup again`,
      );
    }
    log(text.replace(/^/gm, '  '));
  });

  const baseEnv = {
    ...options.env,
    ...(await step('making sure the base images are on this machine, as scripts/up does', () =>
      ensureBaseImages(options.env, (line) => log(`  ${line}`)),
    )),
  };
  const images = imagesOf(baseEnv);
  // The server runs the app as the stack's own app image, whichever app it is (scripts/vps
  // deploy records each release under that name): a ready image (APP_IMAGE) ships as it is.
  const serverApp = imagesOf({ IMAGE_TAG: images.tag }).app;
  const ready = images.app !== serverApp;
  // No namespace owner on a server: every service joins the host's network there.
  const built = BUILT_SERVICES.filter((service) => service !== 'server' && (!ready || service !== 'app'));
  // The backup service's image only where backups are on (a target is named).
  const backups = options.extra?.BACKUP_REPOSITORY ? [backupImage(images.tag)] : [];
  const env = buildEnv({ ...baseEnv, IMAGE_TAG: images.tag });
  await step(
    `building the release on this machine (${[...built.map((service) => images[service]), ...backups].join(', ')})`,
    () => {
      const [services, files] = backups.length > 0 ? [[...built, BACKUP_SERVICE], [BACKUP_COMPOSE_FILE]] : [built, []];
      return compose(`webstack-vps-build-${images.tag}`, ['build', ...services], env, files);
    },
  );

  return withServerLock(host, 'setup', async () => {
    await step(
      `installing on ${label}: Docker Engine and Compose v2 (distribution packages), the firewall, start at boot`,
      async () =>
        report(await runScript(host, 'prepare.sh', [String(facts.sshPort), facts.user], { onStderr: progressTo(log) })),
    );
    // Changes to the host alone (a user let into the docker group, a firewall rule) leave a
    // healthy stack as it is: only what follows (images, release files, .env) calls for compose up.
    const hostChanges = changes.length;

    const shipping = `shipping the images from this machine to ${label}${options.registry ? ` through ${options.registry}` : ' over SSH'}`;
    await step(shipping, async () => {
      // The app image ships only the first time: afterwards scripts/vps deploy owns which release runs.
      const appLive =
        (
          await sshRun(host, asRoot(host, `docker image inspect --format . ${serverApp}`)).catch(() => ({
            exitCode: 1,
          }))
        ).exitCode === 0;
      const refs = [
        images.mysql,
        images.nginxBase,
        ...built.map((service) => images[service]).filter((ref) => !appLive || ref !== images.app),
        ...backups,
      ];
      const pull = [images.mysql, images.nginxBase];
      const shipped = await shipImages(host, refs, {
        registry: options.registry,
        compress: options.compress,
        log,
        pull,
      });
      const moved = [...shipped.sent, ...shipped.retagged];
      if (ready && !appLive) {
        await sshOk(host, asRoot(host, `docker tag ${shellQuote(images.app)} ${serverApp}`));
        moved.push(`${images.app} as ${serverApp}`);
      }
      if (moved.length > 0) {
        const size = shipped.bytes ? `, ${(shipped.bytes / 1024 / 1024).toFixed(0)} MiB` : '';
        changes.push(`images ${moved.join(', ')}`);
        log(`  changed: images ${moved.join(', ')} (${(shipped.ms / 1000).toFixed(1)} s${size})`);
      }
      if (shipped.present.length > 0) log(`  ok: already on ${label}: ${shipped.present.join(', ')}`);
      if (appLive) log(`  ok: an app release is live on ${label} (${serverApp}); scripts/vps deploy changes it`);
    });

    // Whether the stack ran healthy before this run changed anything: then each change goes
    // live without a failed request (below), else compose starts what is missing.
    const wasHealthy = await stackHealthy(host);
    let envOutput = '';
    await step(`release files and the stack's .env in ${STACK_DIR} on ${label}`, async () => {
      report(await shipFiles(host, RELEASE_FILES, migrations));
      envOutput = await runScript(host, 'env.sh', [STACK_DIR, ...nginxSettings()], {
        stdin: `${envSettings(settings, images)}\n`,
      });
      report(envOutput);
    });

    if (wasHealthy && changes.length > hostChanges) {
      await applyChanges({ ...options, log, step, changes, envOutput, putBack });
    } else {
      await step(`starting the stack on ${label} (host networking, restart unless stopped)`, async () => {
        if (wasHealthy) {
          log('  ok: every service running and healthy');
          return;
        }
        await remoteCompose(host)(PROJECT, ['up', '-d', '--wait', '--remove-orphans'], {});
        changes.push('stack started or updated');
        log('  changed: stack up, every service healthy');
      });
    }

    if (backups.length > 0) {
      await step(`letting the backups read the database's binary log on ${label}`, async () => {
        await remoteCompose(host)(PROJECT, ['exec', '-T', 'db', ...BINLOG_GRANT], {});
        log(
          "  ok: RELOAD, REPLICATION CLIENT, REPLICATION SLAVE granted to the app's user, which the backups log in as",
        );
      });
    }

    if (options.email || options.acmeDirectory) {
      await step(`waiting for the certificate for ${options.domain} from the ACME CA`, async () => {
        const cert = await waitFor(
          'the site serves a certificate from the ACME CA',
          async () => {
            const served = await servedCertificate(443, options.domain, ipv4);
            return /webstack local CA/.test(served.issuer) ? false : served;
          },
          { timeoutMs: options.certTimeoutMs ?? 180_000, intervalMs: 2_000 },
        ).catch(async (err: Error) => {
          const state = await remoteCompose(host)(
            PROJECT,
            ['exec', '-T', 'certs', 'cat', '/certs/state.json'],
            {},
          ).catch(() => 'unreadable');
          throw new GiveUp(
            `${err.message}\nthe certs service's state: ${state.trim()}\nthe site is up with a local certificate meanwhile; see scripts/vps logs ${label} certs, and run setup again once fixed`,
          );
        });
        log(`  issuer: ${cert.issuer}; valid until ${cert.notAfter.toISOString()}`);
      });
    }

    const url = `https://${options.domain}/`;
    await step(`checking ${url} from this machine`, async () => {
      const answer = await checkSite(ipv4, options.domain);
      if (answer.status !== 200) throw new Error(`${url}api/health/ready answered ${answer.status}: ${answer.body}`);
      log(`  ${url}api/health/ready at ${ipv4}: ${answer.status} ${answer.body.trim()} in ${answer.ms.toFixed(0)} ms`);
    });

    if (changes.length > 0) {
      const liveId = await sshOk(
        host,
        asRoot(host, `cd ${STACK_DIR} && docker inspect --format '{{.Image}}' "$(docker compose ps -q app)"`),
      );
      await recordEvent(host, `setup: ${changeCount(changes.length)}; ${liveAs(images.app, liveId.trim(), serverApp)}`);
    }
    const totalMs = step.elapsedMs();
    log(
      changes.length === 0
        ? `nothing to change: ${label} was already set up (${(totalMs / 1000).toFixed(1)} s)`
        : `set up in ${(totalMs / 1000).toFixed(1)} s with ${changeCount(changes.length)}`,
    );
    log(`live: ${url}`);
    return { changes, url, totalMs };
  });
}

/**
 * A running stack to this run's settings, each kind of change the way that fails no request:
 * nginx's by a graceful reload, the app's by the deploy's health-gated switch, the rest
 * (the certificate manager, the monitor) by compose alone, none of them serving the site. The
 * database only restarts when the operator agreed; otherwise nothing changes.
 */
async function applyChanges(
  options: SetupOptions & {
    log: Log;
    step: Stepper;
    changes: string[];
    envOutput: string;
    putBack: () => Promise<string>;
  },
): Promise<void> {
  const { host, log, step, changes, putBack } = options;
  const label = hostLabel(host);
  const { replaced, added, dropped } = await serviceChanges(host);
  const { settings } = outcomes(options.envOutput);

  if (replaced.includes('db')) {
    const named = settings.filter((name) => composeSettings('db').includes(name));
    const what = `${named.length > 0 ? named.join(', ') : "the database's configuration"} changed: the database takes ${named.length === 1 ? 'it' : 'them'} only on a restart, and the app cannot reach it meanwhile`;
    const agreed =
      options.restartDatabase === true ||
      (options.confirm !== undefined && (await options.confirm(`${what}. Restart the database now?`)));
    if (!agreed) {
      await putBack();
      throw new Error(
        `${what}; nothing was changed on ${label}. To restart it, run setup again with ${RESTART_DB_FLAG}${options.confirm ? '' : ' (or from a terminal, which asks)'}`,
      );
    }
    log(`  ${what}; restarting it as agreed`);
  }

  if (/^nginx: settings changed$/m.test(options.envOutput)) {
    await step(`applying nginx's settings on ${label}: nginx -t, then a graceful reload`, async () => {
      try {
        const out = await remoteCompose(host)(PROJECT, ['exec', '-T', 'nginx', 'nginx-settings', 'apply'], {});
        log(`  ${out.trim()}`);
      } catch (err) {
        await putBack();
        throw new Error(
          `nginx refused the new settings (${settings.join(', ')}); the previous ones are back in ${STACK_DIR} and still serving: ${(err as Error).message}`,
          { cause: err },
        );
      }
      changes.push("nginx's settings reloaded");
    });
  }

  if (replaced.includes('app')) {
    await step(`switching the app to its new settings on ${label}: a new instance beside, ready, then switched`, () =>
      onServerEngine(host, async () => {
        const live = (await (await serviceContainer(PROJECT, 'app')).inspect()).Image;
        await deploy({ project: PROJECT, env: {}, image: live, compose: remoteCompose(host), log });
      }),
    );
    changes.push("the app's settings switched");
  }

  // The others (the certificate manager, the monitor; the database as agreed), each alone:
  // --no-deps, and nginx not named unless it changed itself, keep compose from replacing
  // nginx after a service it depends on.
  const rest = [...replaced.filter((service) => service !== 'app'), ...added];
  if (rest.length > 0) {
    await step(`replacing or starting ${rest.join(', ')} on ${label} for a changed configuration`, () =>
      remoteCompose(host)(PROJECT, ['up', '-d', '--wait', '--no-deps', ...rest], {}),
    );
  }
  // A service the files no longer name (the backups, turned off) is only ours to remove. It
  // is stopped as compose stops one, so that a backup under way ends and releases its lock
  // in the repository: killed, it would leave one that blocks the next backups for 30 minutes.
  if (dropped.length > 0) {
    await step(`removing ${dropped.join(', ')} on ${label}: no longer in the stack`, () =>
      sshOk(
        host,
        asRoot(
          host,
          dropped
            .map((service) => {
              const ids = `$(docker ps -aq --filter label=com.docker.compose.project=${PROJECT} --filter label=com.docker.compose.service=${shellQuote(service)})`;
              return `docker stop --time ${DROPPED_STOP_SECONDS} ${ids} >/dev/null && docker rm ${ids} >/dev/null`;
            })
            .join(' && '),
        ),
      ),
    );
    changes.push(`removed ${dropped.join(', ')}`);
  }
}
