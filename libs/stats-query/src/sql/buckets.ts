import type { Interval } from '../periods';
import type { OffsetSchedule } from '../timezone';
import type { QueryParams } from './query-params';

/**
 * SQL for the site's UTC offset (seconds) at an instant column: the offset schedule of the query's
 * range as a `multiIf` over bound transition instants, so SQL uses exactly the zone rules the
 * periods and buckets were computed with (see `timezone.offsetSchedule`).
 */
export function offsetExpr(p: QueryParams, schedule: OffsetSchedule): (column: string) => string {
  const initial = p.bind(schedule.initial, 'Int32');
  const changes = schedule.changes.map((c) => ({
    at: p.instant(new Date(c.atMs)),
    offset: p.bind(c.offset, 'Int32'),
  }));
  if (!changes.length) return () => initial;
  return (column) => {
    const branches: string[] = [`${column} < ${changes[0]!.at}`, initial];
    changes.forEach((c, i) => {
      const next = changes[i + 1];
      if (next) branches.push(`${column} < ${next.at}`, c.offset);
      else branches.push(c.offset);
    });
    return `multiIf(${branches.join(', ')})`;
  };
}

/**
 * SQL for the key of the timeseries bucket an instant column falls in. With `local` the instant's
 * local wall-clock time in Unix seconds (UTC seconds plus the offset), all in UTC arithmetic:
 *
 * - day/week/month: the local date of the day, of its Monday, of the first of its month;
 * - hour: `floor(local / 3600)` and the offset: the local hour on the local timeline plus the
 *   offset that tells a repeated hour apart (see `timezone.hourKey`).
 *
 * `periods.timeseriesBuckets` computes the same keys, so rows map onto buckets exactly. Rollup
 * buckets (15 minutes) never straddle a bucket boundary, so this applies to their `bucket` too.
 */
export function bucketKeyExpr(
  interval: Interval,
  column: string,
  offset: (column: string) => string,
): string {
  const local = `toInt64(toUnixTimestamp(${column})) + ${offset(column)}`;
  const wall = `toDateTime(${local}, 'UTC')`;
  switch (interval) {
    case 'hour':
      return `concat(toString(intDiv(${local}, 3600)), '/', toString(${offset(column)}))`;
    case 'day':
      return `toString(toDate(${wall}))`;
    case 'week':
      return `toString(toMonday(${wall}))`;
    case 'month':
      return `toString(toStartOfMonth(${wall}))`;
  }
}
