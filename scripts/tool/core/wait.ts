import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
}

/**
 * Polls `check` until it returns a value other than false/undefined, or throws once the
 * time is up. A check that throws counts as "not yet", unless it throws a `GiveUp`
 * (e.g. the thing waited for has exited), which ends the wait at once. Bounded in time.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | false | undefined>,
  { timeoutMs, intervalMs = 250 }: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await check();
      if (result !== false && result !== undefined) return result;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting until ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/** Thrown by a waitFor check to stop waiting: the condition can no longer come true. */
export class GiveUp extends Error {}
