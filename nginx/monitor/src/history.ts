/** What the monitor has seen of one part: the single-point-of-failure evidence. */
export interface PartHistory {
  up: boolean | undefined;
  /** When the part's current run began: its own start time when it says, else first seen up. */
  upSince?: number;
  restarts: number;
  lastOutage?: { from: number; to?: number };
}

/**
 * Follows one part across ticks. `startedAt` is the part's own start time when it can
 * tell (a process start, the database's Uptime): a new value means it restarted, even if
 * no tick saw it down.
 */
export class PartTracker {
  readonly history: PartHistory = { up: undefined, restarts: 0 };
  private startedAt?: number;

  observe(up: boolean, now: number, startedAt?: number): { cameBack: boolean; restarted: boolean } {
    const was = this.history.up;
    let restarted = false;
    if (up && startedAt !== undefined) {
      // Start times derived from an uptime drift by a second or so between reads.
      if (this.startedAt !== undefined && Math.abs(startedAt - this.startedAt) > 2_000) {
        this.history.restarts += 1;
        restarted = true;
      }
      this.startedAt = startedAt;
    }
    // An outage is a part seen up, then not; before it is first seen up it is starting.
    if (was === true && !up) this.history.lastOutage = { from: now };
    const cameBack = was === false && up && this.history.lastOutage?.to === undefined && !!this.history.lastOutage;
    if (cameBack && this.history.lastOutage) this.history.lastOutage.to = now;
    if (up && (was !== true || restarted)) this.history.upSince = startedAt ?? now;
    if (!up) this.history.upSince = undefined;
    this.history.up = up;
    return { cameBack, restarted };
  }
}
