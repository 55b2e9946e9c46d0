export type Log = (line: string) => void;

export interface StepTiming {
  step: string;
  ms: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Runs named steps in order, printing each as it starts and how long it took. */
export function stepper(log: Log): Stepper {
  const started = performance.now();
  const timings: StepTiming[] = [];
  async function step<T>(what: string, work: () => Promise<T>): Promise<T> {
    const begun = performance.now();
    log(`[${seconds(begun - started).padStart(7)}] ${what}`);
    const result = await work();
    const ms = performance.now() - begun;
    timings.push({ step: what, ms });
    log(`${' '.repeat(10)}${seconds(ms)}`);
    return result;
  }
  return Object.assign(step, { timings, elapsedMs: () => performance.now() - started });
}

export interface Stepper {
  <T>(what: string, work: () => Promise<T>): Promise<T>;
  timings: StepTiming[];
  elapsedMs(): number;
}
