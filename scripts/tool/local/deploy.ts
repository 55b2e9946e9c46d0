import type Docker from 'dockerode';
import { compose, type ComposeRunner, type StackTarget } from '../core/compose.js';
import { appIsReady } from '../core/app.js';
import { docker, lastLogLines, removeContainer, serviceContainer } from '../core/docker.js';
import { liveAppPort, switchUpstream } from '../core/nginx.js';
import { stepper, type Log, type Stepper, type StepTiming } from '../core/steps.js';
import { GiveUp, waitFor } from '../core/wait.js';
import { previousTag, releaseTag, splitRef } from './release.js';

/** Where compose's app listens (docker-compose.yml), and the slot a release uses meanwhile. */
export const APP_PORT = 5000;
export const SLOT_PORT = 5001;

export interface DeployOptions extends StackTarget {
  /** Deploy this existing image (a rollback) instead of building one from the working tree. */
  image?: string;
  readyTimeoutMs?: number;
  log?: Log;
  /** Where compose runs: on this machine by default; over SSH for a server's stack (scripts/vps). */
  compose?: ComposeRunner;
}

export interface DeployResult {
  /** Image id now live, and the one it replaced (kept as <tag>-previous). */
  live: string;
  previous: string;
  liveRef: string;
  timings: StepTiming[];
  totalMs: number;
}

/** What one deploy works with, found once at its start. */
interface Deployment {
  project: string;
  env: NodeJS.ProcessEnv;
  nginx: Docker.Container;
  app: Docker.Container;
  appInfo: Docker.ContainerInspectInfo;
  repo: string;
  tag: string;
  readyTimeoutMs: number;
  step: Stepper;
  log: Log;
  compose: ComposeRunner;
}

const slotName = (project: string) => `${project}-app-${SLOT_PORT}`;

async function lastWords(container: Docker.Container): Promise<string> {
  const lines = await lastLogLines(container);
  return lines ? `; its last log lines:\n${lines}` : ' (it logged nothing)';
}

/** Resolves when the app in `container` is ready (see appIsReady); throws when it exits or never is. */
async function waitReady(d: Deployment, container: Docker.Container, port: number): Promise<void> {
  await waitFor(
    `the app on port ${port} is ready`,
    async () => {
      const state = (await container.inspect()).State;
      if (!state.Running) {
        throw new GiveUp(
          `the app on port ${port} exited (code ${state.ExitCode}) before it became ready${await lastWords(container)}`,
        );
      }
      return appIsReady(container, port, d.nginx);
    },
    { timeoutMs: d.readyTimeoutMs, intervalMs: 500 },
  ).catch(async (err: Error) => {
    if (err instanceof GiveUp) throw err;
    throw new Error(`${err.message}${await lastWords(container)}`, { cause: err });
  });
}

/** Step 1: the image to ship (a given one, the one a stopped deploy left serving, or a fresh build). */
async function resolveRelease(d: Deployment, livePort: number, image: string | undefined): Promise<string> {
  if (livePort === SLOT_PORT) {
    const slot = await docker
      .getContainer(slotName(d.project))
      .inspect()
      .catch(() => {
        throw new Error(
          `nginx sends traffic to ${SLOT_PORT}, but there is no ${slotName(d.project)} container: start it or point nginx back at ${APP_PORT}`,
        );
      });
    d.log(`a deploy stopped half-way: nginx serves from ${SLOT_PORT}; finishing it with the release running there`);
    return slot.Image;
  }
  // A ready app image (APP_IMAGE) is shipped as it is: there is nothing to build.
  const ready = image ?? (d.env.APP_IMAGE || undefined);
  if (ready) {
    const found = await docker
      .getImage(ready)
      .inspect()
      .catch(() => {
        throw new Error(`image ${ready} is not on this machine: docker pull ${ready} (or build it), then deploy again`);
      });
    return found.Id;
  }
  const release = releaseTag(d.tag, new Date());
  await d.step(`building the new app image ${d.repo}:${release}`, () =>
    d.compose(d.project, ['build', 'app'], { ...d.env, IMAGE_TAG: release }),
  );
  return (await docker.getImage(`${d.repo}:${release}`).inspect()).Id;
}

/**
 * Step 2: the schema, before any release starts: compose's one-shot migrate service on the
 * folder of SQL files docker-compose.yml mounts (APP_MIGRATIONS). Migrations must suit the
 * live release too, which keeps serving meanwhile; one that fails stops the deploy here.
 */
async function migrateSchema(d: Deployment): Promise<void> {
  await d
    .step('applying the database migrations (the migrate service, once)', () =>
      d.compose(d.project, ['run', '--rm', '--no-deps', '-T', 'migrate'], { ...d.env, IMAGE_TAG: d.tag }),
    )
    .catch((err: Error) => {
      throw new Error(
        `deploy refused, the migrations failed: no release was started, nothing was switched and the live app keeps serving. ${err.message}`,
        { cause: err },
      );
    });
}

/** Step 3: the release in a second container beside the live app, on SLOT_PORT, ready; or refused. */
async function startBeside(d: Deployment, target: string): Promise<void> {
  await removeContainer(slotName(d.project));
  const { Config, HostConfig } = d.appInfo;
  const imageEnv = new Set((await docker.getImage(d.appInfo.Image).inspect()).Config.Env ?? []);
  const slot = await docker.createContainer({
    name: slotName(d.project),
    Image: target,
    // Compose's environment for the app, minus what the old image itself set. The health
    // check is the new image's own (the readiness gate reads it).
    Env: (Config.Env ?? [])
      .filter((e) => !imageEnv.has(e))
      .map((e) => (e.startsWith('PORT=') ? `PORT=${SLOT_PORT}` : e)),
    Labels: { 'webstack.project': d.project, 'webstack.role': 'deploy-slot' },
    // As locked down as compose's app: the slot serves live traffic during the switch.
    HostConfig: {
      NetworkMode: HostConfig.NetworkMode,
      RestartPolicy: { Name: 'no' },
      ReadonlyRootfs: HostConfig.ReadonlyRootfs,
      Tmpfs: HostConfig.Tmpfs,
      CapDrop: HostConfig.CapDrop,
      CapAdd: HostConfig.CapAdd,
      SecurityOpt: HostConfig.SecurityOpt,
      // The same log caps (docker-compose.yml's x-logging), so no container's log grows unbounded.
      LogConfig: HostConfig.LogConfig,
    },
  });
  try {
    await d.step(`starting the new release beside the live app, on 127.0.0.1:${SLOT_PORT}`, () => slot.start());
    await d.step(`waiting until it is ready, before any switch`, () => waitReady(d, slot, SLOT_PORT));
  } catch (err) {
    await slot.remove({ force: true }).catch(() => undefined);
    throw new Error(`deploy refused, nothing was switched and the live app keeps serving: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Step 4: nginx to `port` (graceful reload, old workers drained). */
function switchTo(d: Deployment, port: number, back = false): Promise<unknown> {
  return d.step(
    `switching nginx ${back ? 'back ' : ''}to ${port}, graceful reload, waiting for old workers to finish`,
    () => switchUpstream(d.nginx, port),
  );
}

/** Step 5: `<tag>` names the new image, `<tag>-previous` the one it replaced. */
function record(d: Deployment, target: string, previous: string): Promise<unknown> {
  const liveRef = `${d.repo}:${d.tag}`;
  return d.step(
    `recording releases: ${liveRef} = the new image, ${d.repo}:${previousTag(d.tag)} = the old one`,
    async () => {
      if (previous !== target) await docker.getImage(previous).tag({ repo: d.repo, tag: previousTag(d.tag) });
      await docker.getImage(target).tag({ repo: d.repo, tag: d.tag });
    },
  );
}

/** Step 6: compose's app service on the new image, traffic back to it, the slot gone. */
async function recreate(d: Deployment): Promise<void> {
  const recreated = await d.step(`recreating compose's app service on the new image, on ${APP_PORT}`, async () => {
    await d.compose(d.project, ['up', '-d', '--no-deps', '--force-recreate', 'app'], { ...d.env, IMAGE_TAG: d.tag });
    return serviceContainer(d.project, 'app');
  });
  await d.step('waiting until it is ready', () => waitReady(d, recreated, APP_PORT));
  await switchTo(d, APP_PORT, true);
  await d.step(`stopping the release's temporary instance on ${SLOT_PORT}`, async () => {
    await docker
      .getContainer(slotName(d.project))
      .stop()
      .catch(() => undefined);
    await removeContainer(slotName(d.project));
  });
}

/**
 * Zero-downtime deploy on one host. The migrations run first (a failure stops the deploy
 * with the old release serving). The new release then starts beside the live app on
 * SLOT_PORT; once it is ready, nginx switches to it (graceful reload, old workers drain)
 * and the old app stops after finishing its requests. Compose's app service is then
 * recreated on the new image and traffic moves back the same way, so at rest the stack
 * is exactly what docker-compose.yml describes. A release that never becomes ready is
 * refused before any switch: the old app keeps serving.
 */
export async function deploy(options: DeployOptions): Promise<DeployResult> {
  const { project, env, readyTimeoutMs = 90_000, log = console.log } = options;
  const nginx = await serviceContainer(project, 'nginx');
  const app = await serviceContainer(project, 'app');
  const appInfo = await app.inspect();
  // With APP_IMAGE, releases are recorded under its name (the live container may still run an earlier one).
  const { repo, tag } = splitRef(env.APP_IMAGE || appInfo.Config.Image);
  const d: Deployment = {
    project,
    env,
    nginx,
    app,
    appInfo,
    repo,
    tag,
    readyTimeoutMs,
    step: stepper(log),
    log,
    compose: options.compose ?? compose,
  };
  const livePort = await liveAppPort(nginx);
  if (livePort !== APP_PORT && livePort !== SLOT_PORT) {
    throw new Error(
      `nginx sends traffic to port ${livePort}, which scripts/deploy never uses (${APP_PORT} or ${SLOT_PORT}): fix nginx's upstream first`,
    );
  }

  const target = await resolveRelease(d, livePort, options.image);
  // Compose's app container still holds the old release, stopped or not.
  const previous = appInfo.Image;
  await migrateSchema(d);
  if (livePort === APP_PORT) {
    await startBeside(d, target);
    await switchTo(d, SLOT_PORT);
    await d.step(`stopping the old app on ${APP_PORT} (SIGTERM: it finishes in-flight requests)`, () =>
      app.stop().catch(() => undefined),
    );
  }
  await record(d, target, previous);
  await recreate(d);

  const liveRef = `${repo}:${tag}`;
  const totalMs = d.step.elapsedMs();
  log(
    `live: ${liveRef} (${target.slice(7, 19)}); previous: ${repo}:${previousTag(tag)} (${previous.slice(7, 19)}); in ${(totalMs / 1000).toFixed(1)} s`,
  );
  return { live: target, previous, liveRef, timings: d.step.timings, totalMs };
}

/** Deploys the image recorded as <tag>-previous, the same zero-downtime way. */
export async function rollback(options: Omit<DeployOptions, 'image'>): Promise<DeployResult> {
  const app = await serviceContainer(options.project, 'app');
  const { repo, tag } = splitRef((await app.inspect()).Config.Image);
  const previousRef = `${repo}:${previousTag(tag)}`;
  await docker
    .getImage(previousRef)
    .inspect()
    .catch(() => {
      throw new Error(`nothing to roll back to: no image ${previousRef} (scripts/deploy records it)`);
    });
  (options.log ?? console.log)(`rolling back to ${previousRef}`);
  return deploy({ ...options, image: previousRef });
}
