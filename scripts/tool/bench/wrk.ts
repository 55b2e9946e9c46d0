import { fileURLToPath } from 'node:url';
import { buildImage, docker, logText, removeContainer } from '../core/docker.js';

const WRK_CONTEXT = fileURLToPath(new URL('./wrk/', import.meta.url));
const MARKER = 'WRK_JSON ';

/** What one wrk run measured (summary printed by wrk/report.lua). */
export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Connect, read and write errors and timeouts: requests that got no HTTP answer. */
  errors: number;
  non2xx: number;
}

export interface WrkLoad {
  /** Docker NetworkMode: `host` for the published port, `container:<id>` inside the server's namespace. */
  network: string;
  url: string;
  /** JSON body: the requests become POSTs. */
  body?: string;
  connections: number;
  seconds: number;
}

export interface Generator {
  image: string;
  /** CPUs wrk is pinned to (docker --cpuset-cpus), or undefined to let it float. */
  cpus: string | undefined;
  containerName: string;
  /** Labels the load containers carry, so a crashed run's leftovers can be found. */
  labels: Record<string, string>;
}

/** Builds the wrk image (Debian's wrk package) on top of the stack's nginx base image. */
export async function buildGenerator(image: string, baseImage: string): Promise<void> {
  await buildImage(WRK_CONTEXT, image, { BASE_IMAGE: baseImage });
}

interface WrkSummary {
  requests: number;
  durationUs: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  timeouts: number;
  non2xx: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
}

export function parseWrkOutput(output: string): WrkResult {
  const line = output.split('\n').find((l) => l.startsWith(MARKER));
  if (!line) throw new Error(`wrk printed no summary:\n${output}`);
  const s = JSON.parse(line.slice(MARKER.length)) as WrkSummary;
  const ms = (us: number) => us / 1000;
  return {
    requests: s.requests,
    requestsPerSecond: s.requests / (s.durationUs / 1e6),
    p50Ms: ms(s.p50Us),
    p90Ms: ms(s.p90Us),
    p99Ms: ms(s.p99Us),
    maxMs: ms(s.maxUs),
    errors: s.connectErrors + s.readErrors + s.writeErrors + s.timeouts,
    non2xx: s.non2xx,
  };
}

/** One bounded wrk run in a throw-away container; one thread, keep-alive connections. */
export async function runWrk(generator: Generator, load: WrkLoad): Promise<WrkResult> {
  await removeContainer(generator.containerName);
  const container = await docker.createContainer({
    name: generator.containerName,
    Image: generator.image,
    Labels: generator.labels,
    Env: load.body === undefined ? [] : [`WRK_BODY=${load.body}`],
    Cmd: [
      '--threads',
      '1',
      '--connections',
      String(load.connections),
      '--duration',
      `${load.seconds}s`,
      '--timeout',
      '5s',
      '--script',
      '/bench/report.lua',
      // Browsers ask for compressed bodies, so the figures include nginx's gzip work.
      '--header',
      'Host: www.foobar.com',
      '--header',
      'Accept-Encoding: gzip',
      load.url,
    ],
    HostConfig: { NetworkMode: load.network, ...(generator.cpus === undefined ? {} : { CpusetCpus: generator.cpus }) },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const output = await logText(container);
    if (StatusCode !== 0) throw new Error(`wrk exited with ${StatusCode}:\n${output}`);
    return parseWrkOutput(output);
  } finally {
    await removeContainer(container.id);
  }
}
