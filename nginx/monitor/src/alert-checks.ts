import { readFile, statfs } from 'node:fs/promises';
import type { Reading } from './alerts.js';

/** The parts whose outage is an alert (the server is the monitor's own namespace: it is up while this runs). */
export const WATCHED_PARTS = ['nginx', 'app', 'db'] as const;
type WatchedPart = (typeof WATCHED_PARTS)[number];

/** What one tick knows; undefined where a figure could not be read (that condition keeps its state). */
export interface AlertFacts {
  /** Up (true), down (false), or not checked yet. */
  parts: Record<WatchedPart, boolean | undefined>;
  diskUsedShare?: number;
  memoryUsedShare?: number;
  certificateDaysLeft?: number;
  /** The certs service's record of its renewal attempts, where it keeps one. */
  renewal?: { failures: number; lastError?: string };
  /** nginx's responses in the 5xx window. */
  responses: { total: number; errors: number };
  /** The backup service's record, where the server runs scheduled backups. */
  backup?: BackupFacts;
}

/** What the backup-age alert needs of the backup service's status file. */
export interface BackupFacts {
  intervalSeconds: number;
  /** When the schedule started (the age of "never backed up" counts from there). */
  started?: Date;
  lastSuccess?: Date;
  lastError?: string;
}

export interface AlertThresholds {
  diskPath: string;
  diskPercent: number;
  memoryPercent: number;
  certDays: number;
  errorPercent: number;
  errorMinRequests: number;
  errorWindowSeconds: number;
}

const percent = (share: number) => `${Math.round(share * 100)} %`;

/**
 * Each condition's reading from the facts. The last good backup's age is read only where
 * backups run on a schedule (older than twice it: one missed run is not yet an alert).
 */
export function alertReadings(facts: AlertFacts, t: AlertThresholds, now = new Date()): Reading[] {
  const readings: Reading[] = [];
  for (const part of WATCHED_PARTS) {
    const up = facts.parts[part];
    if (up !== undefined) readings.push({ key: `down:${part}`, on: !up, text: `${part} is down` });
  }
  if (facts.diskUsedShare !== undefined)
    readings.push({
      key: 'disk',
      on: facts.diskUsedShare * 100 > t.diskPercent,
      text: `disk ${percent(facts.diskUsedShare)} used at ${t.diskPath}, above ${t.diskPercent} %`,
    });
  if (facts.memoryUsedShare !== undefined)
    readings.push({
      key: 'memory',
      on: facts.memoryUsedShare * 100 > t.memoryPercent,
      text: `memory ${percent(facts.memoryUsedShare)} used, above ${t.memoryPercent} %`,
    });
  if (facts.certificateDaysLeft !== undefined)
    readings.push({
      key: 'certificate:expiry',
      on: facts.certificateDaysLeft < t.certDays,
      text: `the certificate nginx serves expires in ${facts.certificateDaysLeft} days (alert under ${t.certDays})`,
    });
  if (facts.renewal)
    readings.push({
      key: 'certificate:renewal',
      on: facts.renewal.failures > 0,
      text: `certificate renewal failing (${facts.renewal.failures} failed since the last success): ${facts.renewal.lastError ?? 'no message'}`,
    });
  if (facts.backup) readings.push(backupAge(facts.backup, now));
  const { total, errors } = facts.responses;
  // Too few requests say nothing about a rate: one failed request of two is not an outage.
  readings.push({
    key: '5xx',
    on: total >= t.errorMinRequests && (errors / total) * 100 > t.errorPercent,
    text: `${errors} of ${total} responses were 5xx in the last ${t.errorWindowSeconds} s (${percent(total ? errors / total : 0)}, above ${t.errorPercent} %)`,
  });
  return readings;
}

function backupAge(backup: BackupFacts, now: Date): Reading {
  const limitMs = 2 * backup.intervalSeconds * 1000;
  const since = backup.lastSuccess ?? backup.started;
  const ageMs = since ? now.getTime() - since.getTime() : 0;
  const why = backup.lastError ? `; last error: ${backup.lastError}` : '';
  const hours = (ms: number) => `${(ms / 3_600_000).toFixed(1)} h`;
  return {
    key: 'backup:age',
    on: ageMs > limitMs,
    text: backup.lastSuccess
      ? `the last good backup is ${hours(ageMs)} old, more than twice its schedule (${hours(limitMs / 2)})${why}`
      : `no good backup in ${hours(ageMs)}, more than twice the schedule (${hours(limitMs / 2)})${why}`,
  };
}

/** Another service's JSON state file; undefined while it has written none. */
async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The backup service's status file, where the server runs backups; undefined where it keeps none. */
export async function readBackup(file: string): Promise<BackupFacts | undefined> {
  const state = (await readJson(file)) as Record<string, unknown> | undefined;
  // Written before the schedule starts (a `now` run): nothing to compare with yet.
  if (typeof state?.interval_seconds !== 'number') return undefined;
  const date = (value: unknown) => (typeof value === 'string' ? new Date(value) : undefined);
  return {
    intervalSeconds: state.interval_seconds,
    started: date(state.started),
    lastSuccess: date(state.last_success),
    lastError: typeof state.last_error === 'string' ? state.last_error : undefined,
  };
}

/** Used share of the filesystem holding `path`, as df counts it (space reserved for root is not available). */
export async function diskUsedShare(path: string): Promise<number> {
  const s = await statfs(path);
  const used = s.blocks - s.bfree;
  return used + s.bavail > 0 ? used / (used + s.bavail) : 0;
}

/** Used share of the machine's memory: what the kernel could not hand out now without swapping (MemAvailable). */
export function memoryUsedShare(meminfo: string): number {
  const kib = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(meminfo);
    if (!match) throw new Error(`/proc/meminfo has no ${name}`);
    return Number(match[1]);
  };
  return 1 - kib('MemAvailable') / kib('MemTotal');
}

export const readMemoryUsedShare = async () => memoryUsedShare(await readFile('/proc/meminfo', 'utf8'));

/** The certs service's state file: how many renewal attempts failed since the last success. Undefined while it keeps none. */
export async function readRenewal(file: string): Promise<AlertFacts['renewal']> {
  const state = (await readJson(file)) as { failures?: unknown; lastError?: unknown } | undefined;
  if (state === undefined) return undefined;
  if (typeof state.failures !== 'number') throw new Error(`${file} has no failure count`);
  return { failures: state.failures, lastError: typeof state.lastError === 'string' ? state.lastError : undefined };
}
