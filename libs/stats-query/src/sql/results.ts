import type { Metric } from '../metrics';
import type { Bucket } from '../periods';

/** A result row as `@clickhouse/client` returns it in JSONEachRow (64-bit integers may be strings). */
export type ResultRow = Record<string, unknown>;

export type MetricValues = Partial<Record<Metric, number>>;

export function readMetrics(row: ResultRow | undefined, metrics: readonly Metric[]): MetricValues {
  const values: MetricValues = {};
  for (const m of metrics) values[m] = Number(row?.[m] ?? 0);
  return values;
}

/**
 * Lays timeseries rows (`{bucket: key, ...metrics}`) onto every bucket of the period, zeros where
 * no row came back, each `{date: <UTC ISO bucket start>, ...metrics}`.
 */
export function fillTimeseries(
  buckets: readonly Bucket[],
  rows: readonly ResultRow[],
  metrics: readonly Metric[],
): Array<{ date: string } & MetricValues> {
  const byKey = new Map(rows.map((r) => [String(r.bucket), r]));
  return buckets.map((b) => ({ date: b.start.toISOString(), ...readMetrics(byKey.get(b.key), metrics) }));
}

/** Rates compare as the difference in points; counts as percent change of the previous value. */
const POINT_METRICS: ReadonlySet<Metric> = new Set(['bounce_rate', 'conversion_rate']);

/**
 * `comparison.change` of one metric: percent change, one decimal (`null` when the previous value
 * is 0 and the current one is not: no finite percentage exists); for rates, the difference in
 * percentage points.
 */
export function metricChange(metric: Metric, current: number, previous: number): number | null {
  if (POINT_METRICS.has(metric)) return Math.round((current - previous) * 10) / 10;
  if (previous === 0) return current === 0 ? 0 : null;
  return Math.round(((current - previous) / previous) * 1000) / 10;
}
