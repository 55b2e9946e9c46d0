/** A wrong command line: the dispatcher prints the message and the usage, and exits 2. */
export class UsageError extends Error {}

/** A command-line option that must be a whole number of at least `min`; `fallback` when absent. */
export function wholeNumber(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, not "${text}"`);
  }
  return value;
}
