import type { Sample } from './prometheus-text.js';

/** Cumulative bucket counts by upper bound, summed over every series that matches. */
export function buckets(samples: Sample[], name: string, where: (labels: Record<string, string>) => boolean) {
  const byBound = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !where(s.labels)) continue;
    const bound = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byBound.set(bound, (byBound.get(bound) ?? 0) + s.value);
  }
  return new Map([...byBound.entries()].sort((a, b) => a[0] - b[0]));
}

/**
 * The q-quantile of the observations between two scrapes of one histogram, interpolated
 * linearly inside its bucket as Prometheus' histogram_quantile does. Undefined when none.
 */
export function quantileBetween(before: Map<number, number>, after: Map<number, number>, q: number) {
  const bounds = [...after.keys()];
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if ((counts[i] as number) >= rank) {
      const upper = bounds[i] as number;
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      // Beyond the last finite bound the best estimate is that bound.
      if (!Number.isFinite(upper)) return lower;
      const below = i === 0 ? 0 : (counts[i - 1] as number);
      const inBucket = (counts[i] as number) - below;
      return lower + (upper - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1);
    }
  }
  return undefined;
}

/** The q-quantile of raw values (sorted copy). */
export function quantileOf(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
