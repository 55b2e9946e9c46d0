// The releases on a server, read from its record of releases (each deploy, rollback and setup
// that made an app image live: when, which image) and the images it still has. Pure, so the
// reading and the choices are unit-tested without a server.

/** How many releases a deploy leaves on the server unless its .env's KEEP_RELEASES says otherwise. */
export const DEFAULT_KEEP_RELEASES = 5;
/** The server's .env setting that overrides DEFAULT_KEEP_RELEASES. */
export const KEEP_RELEASES_SETTING = 'KEEP_RELEASES';

/** An image id as the record and the list show it: 12 hex digits, without sha256:. */
export const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** How the record names an app image made live (after `deploy: `, `rollback: `, `setup: N changes; `). */
export const liveAs = (name: string, id: string, liveRef: string) => `${name} (${shortId(id)}) live as ${liveRef}`;

export interface Period {
  from: Date;
  /** Absent while it is live. */
  to?: Date;
}

export interface Release {
  id: string;
  /** The image reference it was first made live as. */
  name: string;
  /** When it was live, oldest first. */
  periods: Period[];
  live: boolean;
}

// `<ISO time> deploy|rollback|setup: [N changes; ]<name> (<id>) live as <ref>`; a rollback
// recorded before names were written has the id alone.
const EVENT = /^(\S+) (?:deploy|rollback|setup): (?:.*; )?(?:(\S+) \()?([0-9a-f]{12})\)? live as \S+$/;

/**
 * The releases the record names, each with when it was live, most recently live first; only
 * those whose image `present` (ids, any form) still holds. `liveId` is the image the app
 * runs now: live whatever the record says (a deploy stopped before it wrote its line), and
 * listed even if the record never named it, as `liveRef`.
 */
export function readReleases(record: string, present: string[], liveId: string, liveRef: string): Release[] {
  const byId = new Map<string, Release>();
  let current: Release | undefined;
  for (const line of record.split('\n')) {
    const match = EVENT.exec(line.trim());
    if (!match) continue;
    const [, time, name, id] = match as unknown as [string, string, string | undefined, string];
    const from = new Date(time);
    if (Number.isNaN(from.getTime()) || current?.id === id) continue;
    if (current) current.periods.at(-1)!.to = from;
    current = byId.get(id) ?? { id, name: name ?? id, periods: [], live: false };
    byId.set(id, current);
    current.periods.push({ from });
  }
  const live = shortId(liveId);
  if (!byId.has(live)) byId.set(live, { id: live, name: liveRef, periods: [], live: false });
  byId.get(live)!.live = true;
  if (current && current.id !== live) {
    // The record's last line is not what runs: its period ended at an unknown time.
    const last = current.periods.at(-1)!;
    last.to ??= last.from;
  }
  const onServer = new Set(present.map(shortId));
  const lastLive = (release: Release) => (release.live ? Infinity : (release.periods.at(-1)?.to?.getTime() ?? 0));
  return [...byId.values()].filter((r) => onServer.has(r.id)).sort((a, b) => lastLive(b) - lastLive(a));
}

/**
 * The releases to keep: the `keep` most recently live, and whatever else `always` names (the
 * live one, the one a rollback would use), whatever `keep` says.
 */
export function keptReleases(releases: Release[], keep: number, always: Array<string | undefined>): Set<string> {
  const kept = new Set(releases.slice(0, keep).map((r) => r.id));
  for (const id of always) if (id) kept.add(shortId(id));
  return kept;
}

/** The release `given` names (its name or its id), or an error listing those there are; nothing is changed. */
export function chooseRelease(releases: Release[], given: string, where: string): Release {
  const found = releases.find((r) => r.name === given || r.id === shortId(given));
  if (found) return found;
  const known = releases.map((r) => `${r.name} (${r.id})`).join(', ') || 'none';
  throw new Error(
    `no release ${given} on ${where}; its releases: ${known} (scripts/vps releases lists them); nothing was changed`,
  );
}

const when = (date: Date) => date.toISOString().replace(/\.\d+Z$/, 'Z');

/** The list scripts/vps releases prints: one release a line, most recently live first. */
export function formatReleases(releases: Release[]): string {
  if (releases.length === 0) return 'no releases recorded';
  return releases
    .map((r) => {
      const periods = r.periods.map((p) => `${when(p.from)} to ${p.to ? when(p.to) : 'now'}`);
      const live = r.live ? 'LIVE  ' : '      ';
      return `${live}${r.id}  ${r.name}  ${periods.join(', ') || 'live since before the record began'}`;
    })
    .join('\n');
}

/** KEEP_RELEASES from the server's .env text, else the default; a bad value is named. */
export function keepFrom(envText: string): number {
  const line = envText.split('\n').find((l) => l.startsWith(`${KEEP_RELEASES_SETTING}=`));
  if (line === undefined) return DEFAULT_KEEP_RELEASES;
  const value = line.slice(KEEP_RELEASES_SETTING.length + 1).trim();
  const keep = Number(value);
  if (!/^\d+$/.test(value) || keep < 1)
    throw new Error(`${KEEP_RELEASES_SETTING}=${value} in the server's .env: give a whole number of at least 1`);
  return keep;
}
