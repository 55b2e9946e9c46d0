/** Parses Server-Timing (`name;dur=1.5;desc="…", …`, headers joined by commas) into durations by name. */
export function serverTiming(header: string | string[] | number | undefined): Record<string, number> {
  return Object.fromEntries(
    String(header)
      .split(',')
      .map((entry) => {
        const [name, ...params] = entry.trim().split(';');
        const dur = params.find((p) => p.startsWith('dur='));
        return [name, Number(dur?.slice(4))];
      }),
  );
}
