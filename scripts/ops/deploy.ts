import type Docker from 'dockerode';
import { compose, type StackTarget } from './compose.js';
import { docker, execIn, lastLogLines, serviceContainer } from './docker.js';
import { liveAppPort, reloadGracefully, writeUpstream } from './nginx.js';
import { stepper, type Log, type StepTiming } from './steps.js';

/** Where compose's app listens (docker-compose.yml), and the slot a release uses meanwhile. */
export const APP_PORT = 5000;
export const SLOT_PORT = 5001;

export interface DeployOptions extends StackTarget {
  /** Deploy this existing image (a rollback) instead of building one from the working tree. */
  image?: string;
  readyTimeoutMs?: number;
  log?: Log;
}

export interface DeployResult {
  /** Image id now live, and the one it replaced (kept as <tag>-previous). */
  live: string;
  previous: string;
  liveRef: string;
  timings: StepTiming[];
  totalMs: number;
}

const slotName = (project: string) => `${project}-app-${SLOT_PORT}`;
const releaseStamp = () =>
  new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

function splitRef(ref: string): { repo: string; tag: string } {
  const at = ref.lastIndexOf(':');
  if (at <= ref.lastIndexOf('/')) return { repo: ref, tag: 'latest' };
  return { repo: ref.slice(0, at), tag: ref.slice(at + 1) };
}

async function lastWords(container: Docker.Container): Promise<string> {
  const lines = await lastLogLines(container);
  return lines ? `; its last log lines:\n${lines}` : ' (it logged nothing)';
}

/** Resolves when the app in `container` answers its ready endpoint; throws when it never does. */
async function waitReady(container: Docker.Container, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = (await container.inspect()).State;
    if (!state.Running) {
      throw new Error(
        `the app on port ${port} exited (code ${state.ExitCode}) before it became ready${await lastWords(container)}`,
      );
    }
    // The image's own health check, which asks /api/health/ready on $PORT.
    const check = await execIn(container, ['node', 'app/dist/healthcheck.js']).catch(() => undefined);
    if (check?.exitCode === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `the app on port ${port} did not become ready within ${timeoutMs / 1000} s${await lastWords(container)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function removeIfPresent(name: string): Promise<void> {
  const container = docker.getContainer(name);
  await container.remove({ force: true }).catch((err: { statusCode?: number }) => {
    if (err.statusCode !== 404) throw err;
  });
}

/**
 * Zero-downtime deploy on one host. The new release first starts beside the live app on
 * SLOT_PORT; once it is ready, nginx switches to it (graceful reload, old workers drain)
 * and the old app stops after finishing its requests. Compose's app service is then
 * recreated on the new image and traffic moves back the same way, so at rest the stack
 * is exactly what docker-compose.yml describes. A release that never becomes ready is
 * refused before any switch: the old app keeps serving.
 */
export async function deploy(options: DeployOptions): Promise<DeployResult> {
  const { project, env, readyTimeoutMs = 90_000, log = console.log } = options;
  const step = stepper(log);
  const nginx = await serviceContainer(project, 'nginx');
  const app = await serviceContainer(project, 'app');
  const appInfo = await app.inspect();
  const { repo, tag } = splitRef(appInfo.Config.Image);
  const liveRef = `${repo}:${tag}`;
  const composeEnv = { ...env, IMAGE_TAG: tag };
  const livePort = await liveAppPort(nginx);
  if (livePort !== APP_PORT && livePort !== SLOT_PORT) {
    throw new Error(
      `nginx sends traffic to port ${livePort}, which scripts/deploy never uses (${APP_PORT} or ${SLOT_PORT}): fix nginx's upstream first`,
    );
  }

  let target: string;
  if (livePort === SLOT_PORT) {
    // A deploy stopped half-way, with the release serving from the slot: finish that one.
    const slot = await docker
      .getContainer(slotName(project))
      .inspect()
      .catch(() => {
        throw new Error(
          `nginx sends traffic to ${SLOT_PORT}, but there is no ${slotName(project)} container: start it or point nginx back at ${APP_PORT}`,
        );
      });
    target = slot.Image;
    log(`a deploy stopped half-way: nginx serves from ${SLOT_PORT}; finishing it with the release running there`);
  } else if (options.image) {
    target = (await docker.getImage(options.image).inspect()).Id;
  } else {
    const release = `${tag}-r${releaseStamp()}`;
    await step(`building the new app image ${repo}:${release}`, () =>
      compose(project, ['build', 'app'], { ...composeEnv, IMAGE_TAG: release }),
    );
    target = (await docker.getImage(`${repo}:${release}`).inspect()).Id;
  }
  // Compose's app container still holds the old release, stopped or not.
  const previous = appInfo.Image;

  if (livePort === APP_PORT) {
    await removeIfPresent(slotName(project));
    const imageEnv = new Set((await docker.getImage(appInfo.Image).inspect()).Config.Env ?? []);
    const slot = await docker.createContainer({
      name: slotName(project),
      Image: target,
      // Compose's environment for the app, minus what the old image itself set.
      Env: (appInfo.Config.Env ?? [])
        .filter((e) => !imageEnv.has(e))
        .map((e) => (e.startsWith('PORT=') ? `PORT=${SLOT_PORT}` : e)),
      Healthcheck: appInfo.Config.Healthcheck,
      Labels: { 'webstack.project': project, 'webstack.role': 'deploy-slot' },
      // As locked down as compose's app: the slot serves live traffic during the switch.
      HostConfig: {
        NetworkMode: appInfo.HostConfig.NetworkMode,
        RestartPolicy: { Name: 'no' },
        ReadonlyRootfs: appInfo.HostConfig.ReadonlyRootfs,
        Tmpfs: appInfo.HostConfig.Tmpfs,
        CapDrop: appInfo.HostConfig.CapDrop,
        CapAdd: appInfo.HostConfig.CapAdd,
        SecurityOpt: appInfo.HostConfig.SecurityOpt,
      },
    });
    try {
      await step(`starting the new release beside the live app, on 127.0.0.1:${SLOT_PORT}`, () => slot.start());
      await step(`waiting until it is ready (migrations run now, before any switch)`, () =>
        waitReady(slot, SLOT_PORT, readyTimeoutMs),
      );
    } catch (err) {
      await slot.remove({ force: true }).catch(() => undefined);
      throw new Error(
        `deploy refused, nothing was switched and the live app keeps serving: ${(err as Error).message}`,
        { cause: err },
      );
    }
    await step(`switching nginx to ${SLOT_PORT}, graceful reload, waiting for old workers to finish`, async () => {
      await writeUpstream(nginx, SLOT_PORT);
      await reloadGracefully(nginx);
    });
    await step(`stopping the old app on ${APP_PORT} (SIGTERM: it finishes in-flight requests)`, () =>
      app.stop().catch(() => undefined),
    );
  }

  await step(`recording releases: ${liveRef} = the new image, ${liveRef}-previous = the old one`, async () => {
    if (previous !== target) await docker.getImage(previous).tag({ repo, tag: `${tag}-previous` });
    await docker.getImage(target).tag({ repo, tag });
  });
  const recreated = await step(`recreating compose's app service on the new image, on ${APP_PORT}`, async () => {
    await compose(project, ['up', '-d', '--no-deps', '--force-recreate', 'app'], composeEnv);
    return serviceContainer(project, 'app');
  });
  await step('waiting until it is ready', () => waitReady(recreated, APP_PORT, readyTimeoutMs));
  await step(`switching nginx back to ${APP_PORT}, graceful reload, waiting for old workers to finish`, async () => {
    await writeUpstream(nginx, APP_PORT);
    await reloadGracefully(nginx);
  });
  await step(`stopping the release's temporary instance on ${SLOT_PORT}`, async () => {
    await docker
      .getContainer(slotName(project))
      .stop()
      .catch(() => undefined);
    await removeIfPresent(slotName(project));
  });
  log(
    `live: ${liveRef} (${target.slice(7, 19)}); previous: ${liveRef}-previous (${previous.slice(7, 19)}); in ${(step.elapsedMs() / 1000).toFixed(1)} s`,
  );
  return { live: target, previous, liveRef, timings: step.timings, totalMs: step.elapsedMs() };
}

/** Deploys the image recorded as <tag>-previous, the same zero-downtime way. */
export async function rollback(options: Omit<DeployOptions, 'image'>): Promise<DeployResult> {
  const app = await serviceContainer(options.project, 'app');
  const { repo, tag } = splitRef((await app.inspect()).Config.Image);
  const previousRef = `${repo}:${tag}-previous`;
  await docker
    .getImage(previousRef)
    .inspect()
    .catch(() => {
      throw new Error(`nothing to roll back to: no image ${previousRef} (scripts/deploy records it)`);
    });
  (options.log ?? console.log)(`rolling back to ${previousRef}`);
  return deploy({ ...options, image: previousRef });
}
