import { fileURLToPath } from 'node:url';
import { docker } from './docker.js';

const WRK_CONTEXT = fileURLToPath(new URL('./wrk/', import.meta.url));
const MARKER = 'WRK_JSON ';

/** What one wrk run measured (summary printed by wrk/report.lua). */
export interface LoadResult {
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

export interface Load {
  /** `host` for the published port, `container:<id>` to run inside the server's namespace. */
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
  label: string;
}

/** Builds the wrk image (Debian's wrk package) on top of the stack's nginx base image. */
export async function buildGenerator(image: string, baseImage: string): Promise<void> {
  await docker([
    'build',
    '--network',
    'host',
    '-q',
    '--build-arg',
    `BASE_IMAGE=${baseImage}`,
    '-t',
    image,
    WRK_CONTEXT,
  ]);
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

export function parseWrkOutput(output: string): LoadResult {
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
export async function runLoad(generator: Generator, load: Load): Promise<LoadResult> {
  const args = [
    'run',
    '--rm',
    '--name',
    generator.containerName,
    '--label',
    generator.label,
    '--network',
    load.network,
  ];
  if (generator.cpus !== undefined) args.push('--cpuset-cpus', generator.cpus);
  if (load.body !== undefined) args.push('--env', `WRK_BODY=${load.body}`);
  args.push(
    generator.image,
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
  );
  return parseWrkOutput(await docker(args));
}
