/*
 * Images from this machine's Docker engine to a server's, without a registry (the default)
 * or through one the user names.
 *
 * API (shared by scripts/vps and the Swarm tool; keep it backward compatible):
 *   planShipment(local, remote) → { send, retag, present }                         (pure)
 *   registryRef(registry, ref) → 'registry/repo:tag'                                 (pure)
 *   shipImages(host, refs, { registry?, log?, compress?, pull? }) → ShipResult
 *       Without a registry: one `docker save A B … | ssh host docker load` stream of the images
 *       the server lacks (layers shared between them go once); an image the server already has
 *       under another name is only tagged there, one it has under this name is skipped.
 *       With a registry (host:port): `docker push` here, `docker pull` + tag there.
 *
 * Layers the server already holds from other images are still sent by the save/load path:
 * `docker load` needs every layer of an image in its archive. A registry transfers only
 * missing layers; name one (REGISTRY) when the link is slow and releases are frequent.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { Log } from '../core/steps.js';
import { asRoot, hostLabel, shellQuote, sshOk, sshRun, type Host } from './ssh.js';

const run = promisify(execFile);

/** An image by the name it is shipped under and its content id (sha256:…). */
export interface ImageId {
  ref: string;
  id: string;
}

export interface Shipment {
  /** Images whose content the server lacks. */
  send: ImageId[];
  /** Images the server has under another name: only a tag is needed there. */
  retag: ImageId[];
  /** Images the server has under this very name. */
  present: ImageId[];
}

/** What to do for each local image, given the server's images (ref → id; ids without refs under '' keys are fine). */
export function planShipment(local: ImageId[], remote: ImageId[]): Shipment {
  const remoteIds = new Set(remote.map((image) => image.id));
  const remoteByRef = new Map(remote.map((image) => [image.ref, image.id]));
  const plan: Shipment = { send: [], retag: [], present: [] };
  for (const image of local) {
    if (remoteByRef.get(image.ref) === image.id) plan.present.push(image);
    else if (remoteIds.has(image.id)) plan.retag.push(image);
    else plan.send.push(image);
  }
  return plan;
}

/** The name an image has in `registry` (host[:port][/path]). */
export function registryRef(registry: string, ref: string): string {
  const trimmed = registry.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  if (!/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._/-]+)?$/i.test(trimmed)) {
    throw new Error(
      `REGISTRY "${registry}" is not a registry address: give host[:port][/path], e.g. registry.example.com:5000`,
    );
  }
  return `${trimmed}/${ref}`;
}

export interface ShipOptions {
  /** host[:port][/path] of a registry both machines reach; absent: stream over SSH. */
  registry?: string;
  log?: Log;
  /** Compress the SSH stream (ssh -C; default true). Off where the link is faster than the CPU, e.g. a local network. */
  compress?: boolean;
  /**
   * Of `refs`, those to `docker pull` here when this machine lacks them (base images from a
   * registry). Never the stack's own images: a registry may hold another project's under their names.
   */
  pull?: string[];
}

export interface ShipResult {
  sent: string[];
  retagged: string[];
  present: string[];
  /** Bytes that went over the SSH link (after compression), 0 through a registry. */
  bytes: number;
  ms: number;
}

const localId = async (ref: string) =>
  (await run('docker', ['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim();

/** What to tell the user when an image to ship is not on this machine. */
export function missingImage(ref: string, pullable: boolean, pullError?: string): string {
  if (!pullable) return `image ${ref} is not on this machine: build it, or docker pull ${ref}, then run this again`;
  const said = pullError?.trim().split('\n').pop() ?? 'no message';
  return `image ${ref} is not on this machine and docker pull ${ref} failed (${said}): run docker pull ${ref} where a registry answers, or give a base image this machine has (MYSQL_IMAGE, NGINX_IMAGE, NODE_IMAGE in the environment or .env)`;
}

/** The content id of each image here, pulling the pullable ones this machine lacks. */
async function localIds(refs: string[], pull: string[], log: Log): Promise<ImageId[]> {
  const ids: ImageId[] = [];
  for (const ref of refs) {
    const id = await localId(ref).catch(async () => {
      if (!pull.includes(ref)) throw new Error(missingImage(ref, false));
      log(`pulling ${ref} (not on this machine yet)`);
      await run('docker', ['pull', '--quiet', ref]).catch((err: { stderr?: string }) => {
        throw new Error(missingImage(ref, true, err.stderr));
      });
      return localId(ref);
    });
    ids.push({ ref, id });
  }
  return ids;
}

/** Every image on the server as ref → id (untagged ones under `<none>`). */
async function remoteIds(host: Host): Promise<ImageId[]> {
  const listing = await sshOk(
    host,
    asRoot(host, "docker image ls --all --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}'"),
  );
  return listing
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [ref = '', id = ''] = line.split(' ');
      return { ref, id };
    });
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

/** `docker save` here piped into `docker load` there, compressed on the wire, with progress. */
function stream(host: Host, refs: string[], log: Log, compress: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const save = spawn('docker', ['save', ...refs], { stdio: ['ignore', 'pipe', 'pipe'] });
    let saveErr = '';
    save.stderr.on('data', (chunk: Buffer) => (saveErr += chunk.toString('utf8')));
    let bytes = 0;
    const started = Date.now();
    const progress = setInterval(
      () => log(`  ${mib(bytes)} sent in ${((Date.now() - started) / 1000).toFixed(0)} s`),
      10_000,
    );
    save.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
    const saved = new Promise<number>((done) => save.on('close', (code) => done(code ?? -1)));
    sshRun(host, asRoot(host, 'docker load --quiet'), { stdin: save.stdout, compress })
      .then(async (loaded) => {
        clearInterval(progress);
        const saveCode = await saved;
        if (saveCode !== 0) return reject(new Error(`docker save ${refs.join(' ')} failed: ${saveErr.trim()}`));
        if (loaded.exitCode !== 0) {
          return reject(
            new Error(`docker load on ${hostLabel(host)} failed (exit ${loaded.exitCode}): ${loaded.stderr.trim()}`),
          );
        }
        resolve(bytes);
      })
      .catch((err: unknown) => {
        clearInterval(progress);
        save.kill();
        reject(err as Error);
      });
  });
}

/** Makes `refs` (images on this machine) present on the server under the same names. */
export async function shipImages(host: Host, refs: string[], options: ShipOptions = {}): Promise<ShipResult> {
  const log = options.log ?? console.log;
  const started = Date.now();
  const plan = planShipment(await localIds(refs, options.pull ?? [], log), await remoteIds(host));
  let bytes = 0;
  if (plan.send.length > 0 && options.registry) {
    const registry = options.registry;
    for (const { ref } of plan.send) {
      const remoteName = registryRef(registry, ref);
      log(`pushing ${ref} to ${registry}`);
      await run('docker', ['tag', ref, remoteName]);
      await run('docker', ['push', '--quiet', remoteName]).catch((err: { stderr?: string }) => {
        throw new Error(
          `docker push ${remoteName} failed: ${err.stderr?.trim()}: is ${registry} up, and does this machine trust it?`,
        );
      });
      await sshOk(
        host,
        asRoot(
          host,
          `docker pull --quiet ${shellQuote(remoteName)} && docker tag ${shellQuote(remoteName)} ${shellQuote(ref)}`,
        ),
      );
    }
  } else if (plan.send.length > 0) {
    log(
      `sending ${plan.send.map((image) => image.ref).join(', ')} to ${hostLabel(host)} (docker save | ssh docker load)`,
    );
    bytes = await stream(
      host,
      plan.send.map((image) => image.ref),
      log,
      options.compress ?? true,
    );
  }
  if (plan.retag.length > 0) {
    await sshOk(
      host,
      asRoot(host, plan.retag.map(({ ref, id }) => `docker tag ${shellQuote(id)} ${shellQuote(ref)}`).join(' && ')),
    );
  }
  return {
    sent: plan.send.map((image) => image.ref),
    retagged: plan.retag.map((image) => image.ref),
    present: plan.present.map((image) => image.ref),
    bytes,
    ms: Date.now() - started,
  };
}
