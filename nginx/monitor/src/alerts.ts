/** One condition as checked at one tick: is it wrong now, and how it reads to a person. */
export interface Reading {
  /** Stable across ticks and restarts, e.g. `down:app`, `disk`. */
  key: string;
  on: boolean;
  /** What is wrong, said while it is (e.g. "disk 93 % used at /srv/status-log, above 90 %"). */
  text: string;
}

/** An alert that has started and not cleared. */
export interface ActiveAlert {
  key: string;
  /** When it started (epoch ms): when its condition had held for the raise delay. */
  since: number;
  /** The condition's text when it started. */
  text: string;
}

export interface AlertEvent extends ActiveAlert {
  state: 'started' | 'cleared';
  at: number;
}

interface Tracked {
  active?: ActiveAlert;
  /** Since when the reading has disagreed with the alert's state (on while off, or off while on). */
  disagreeingSince?: number;
}

/**
 * The alerts' state machine. A condition starts its alert once it has been on for
 * `raiseAfterMs` without a break, and clears it once it has been off for `clearAfterMs`:
 * one event each way, nothing while it stays as it is, and a condition that flaps faster
 * than the hold-downs sends nothing at all. A condition without a reading at a tick (its
 * figure unknown: nginx down, so no certificate to read) keeps its state and its clock.
 * Alerts active when the monitor last stopped are given back at start, so a restart sends
 * again only what changed meanwhile.
 */
export class AlertBook {
  private readonly tracked = new Map<string, Tracked>();

  constructor(
    private readonly raiseAfterMs: number,
    private readonly clearAfterMs: number,
    active: ActiveAlert[] = [],
  ) {
    for (const alert of active) this.tracked.set(alert.key, { active: alert });
  }

  observe(readings: Reading[], now: number): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (const reading of readings) {
      const tracked = this.tracked.get(reading.key) ?? {};
      this.tracked.set(reading.key, tracked);
      if (reading.on === (tracked.active !== undefined)) {
        tracked.disagreeingSince = undefined;
        continue;
      }
      tracked.disagreeingSince ??= now;
      if (now - tracked.disagreeingSince < (reading.on ? this.raiseAfterMs : this.clearAfterMs)) continue;
      tracked.disagreeingSince = undefined;
      if (tracked.active) {
        events.push({ ...tracked.active, state: 'cleared', at: now });
        tracked.active = undefined;
      } else {
        tracked.active = { key: reading.key, since: now, text: reading.text };
        events.push({ ...tracked.active, state: 'started', at: now });
      }
    }
    return events;
  }

  get active(): ActiveAlert[] {
    return [...this.tracked.values()].flatMap((t) => (t.active ? [t.active] : []));
  }
}
