/** Summaries of repeated measurements: medians and p99, never means (a stall on a shared machine would drag a mean). */

export interface Stat {
  n: number;
  median: number;
  p99: number;
  min: number;
  max: number;
}

/** The q-quantile (0..1) of sorted samples, nearest-rank. */
function quantile(sorted: readonly number[], q: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(samples: readonly number[]): Stat {
  if (samples.length === 0) throw new Error('summarize: no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { n: sorted.length, median, p99: quantile(sorted, 0.99), min: sorted[0]!, max: sorted.at(-1)! };
}

/** The median of one series over the median of another: how comparisons side by side are reported. */
export function ratio(of: Stat | number, to: Stat | number): number {
  const value = (s: Stat | number): number => (typeof s === 'number' ? s : s.median);
  return value(of) / value(to);
}
