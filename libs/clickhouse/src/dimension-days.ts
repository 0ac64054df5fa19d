import type { ClickHouse } from './client';
import { partitionStampsSql } from './summaries';
import { ROLLUP_DIMENSIONS_TABLE, type RollupDimension } from './tables/rollups.table';

/*
 * Day totals of the dimension rollup (infra/clickhouse/migrations/012_dimension_days.sql): one row
 * per site, dimension (`DAY_TOTAL_DIMENSIONS`), UTC day and value, visitors counted, for every UTC
 * day before today. The stats read a day from here while its events add up to the rollups'.
 */

export const DIMENSION_DAYS_TABLE = 'rollup_dimensions_per_day';

/**
 * The dimensions with day totals, each with what its `events` of a day add up to in the site
 * rollup: they have a row per event (the page: per pageview), so the stats can check a day's
 * totals against the site's 96 rows of it. Exit links (outbound clicks) have no such total, and
 * so few rows that merging their states costs less than reading day totals would.
 */
export const DAY_TOTAL_DIMENSIONS = {
  page: 'pageviews',
  hostname: 'events',
  event: 'events',
  device: 'events',
  browser: 'events',
  os: 'events',
} as const satisfies Partial<Record<RollupDimension, 'events' | 'pageviews'>>;

export type DayTotalDimension = keyof typeof DAY_TOTAL_DIMENSIONS;

const IN_DAY_TOTALS = `dimension IN (${Object.keys(DAY_TOTAL_DIMENSIONS)
  .map((d) => `'${d}'`)
  .join(', ')})`;
const STAGING_TABLE = 'rollup_dimensions_per_day_staging';
const CHECKS_TABLE = 'rollup_dimensions_per_day_checks';

const DAY_MS = 86_400_000;

/**
 * The (site, dimension, day) groups of one month whose totals disagree between the 15-minute rows
 * of its days before `{end}` and the day rows: a day not built yet, or one that gained events.
 */
const STALE_DAYS_SQL = `SELECT count() AS stale FROM (
    SELECT site_id, dimension, toDate(bucket) AS day, sum(events) AS events
      FROM ${ROLLUP_DIMENSIONS_TABLE}
     WHERE _partition_id = {partition:String} AND bucket < {end:DateTime('UTC')} AND ${IN_DAY_TOTALS}
     GROUP BY site_id, dimension, day
  ) AS source
  FULL OUTER JOIN (
    SELECT site_id, dimension, day, sum(events) AS events
      FROM ${DIMENSION_DAYS_TABLE}
     WHERE _partition_id = {partition:String}
     GROUP BY site_id, dimension, day
  ) AS built USING (site_id, dimension, day)
  WHERE source.events != built.events`;

/** A month's days before `{end}`; grouped along the source's order, so memory holds one site's dimension at a time. */
const BUILD_SQL = `INSERT INTO ${STAGING_TABLE} (site_id, dimension, day, value, visitors, pageviews, events)
  SELECT site_id, dimension, toDate(bucket) AS day, value, uniqMerge(visitors), sum(pageviews), sum(events)
    FROM ${ROLLUP_DIMENSIONS_TABLE}
   WHERE _partition_id = {partition:String} AND bucket < {end:DateTime('UTC')} AND ${IN_DAY_TOTALS}
   GROUP BY site_id, dimension, day, value
  SETTINGS optimize_aggregation_in_order = 1`;

const CHECKS_SQL = `SELECT partition, stamp FROM ${CHECKS_TABLE} FINAL`;

/** The start of the UTC month `partition` (`YYYYMM`) plus `months`, in milliseconds. */
const monthStart = (partition: string, months = 0) =>
  Date.UTC(Number(partition.slice(0, 4)), Number(partition.slice(4)) - 1 + months, 1);

/** The first instant after the whole UTC days of `partition` that are over at `now`. */
const closedEnd = (partition: string, now: Date) =>
  new Date(Math.min(monthStart(partition, 1), Math.floor(now.getTime() / DAY_MS) * DAY_MS));

/** A partition id as ALTER takes it (no query parameters there); ids come from system.parts. */
function partitionId(partition: string): string {
  if (!/^\d{6}$/.test(partition)) throw new Error(`not a month partition id: ${partition}`);
  return `'${partition}'`;
}

const dateTime = (at: Date) => at.toISOString().slice(0, 19).replace('T', ' ');

/**
 * Brings the day rows of every month up to its 15-minute rows: a month whose source partition
 * changed since its last check (an insert, a merge, a deletion, or a new day over) has its totals
 * compared, and is rebuilt whole when any day disagrees. Returns the months rebuilt. Safe to
 * interrupt and to run again: a month is swapped in one step, and its check is recorded after.
 * Runs under the summaries' lock (SUMMARY_REFRESH_LOCK_ID), so one process builds at a time.
 */
export async function refreshDimensionDays(clickhouse: ClickHouse, now: Date): Promise<string[]> {
  const rows = async <T>(query: string, params: Record<string, unknown> = {}) =>
    (await clickhouse.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
  const [stamps, checks] = await Promise.all([
    rows<{ partition_id: string; parts: string }>(partitionStampsSql([ROLLUP_DIMENSIONS_TABLE])),
    rows<{ partition: string; stamp: string }>(CHECKS_SQL),
  ]);
  const checked = new Map(checks.map((c) => [c.partition, c.stamp]));
  const rebuilt: string[] = [];
  stamps.sort((a, b) => a.partition_id.localeCompare(b.partition_id));
  for (const { partition_id: partition, parts } of stamps) {
    const end = closedEnd(partition, now);
    if (end.getTime() <= monthStart(partition)) continue;
    // Taken before reading the rows: a change after it makes the next run look again.
    const stamp = `${dateTime(end)}|${parts}`;
    if (checked.get(partition) === stamp) continue;
    const params = { partition, end: dateTime(end) };
    const [{ stale } = { stale: 0 }] = await rows<{ stale: string | number }>(STALE_DAYS_SQL, params);
    if (Number(stale) > 0) {
      const dropStaged = `ALTER TABLE ${STAGING_TABLE} DROP PARTITION ID ${partitionId(partition)}`;
      await clickhouse.command({ query: dropStaged });
      await clickhouse.command({
        query: BUILD_SQL,
        query_params: params,
        clickhouse_settings: { insert_deduplicate: 0 },
      });
      await clickhouse.command({
        query: `ALTER TABLE ${DIMENSION_DAYS_TABLE} REPLACE PARTITION ID ${partitionId(partition)} FROM ${STAGING_TABLE}`,
      });
      await clickhouse.command({ query: dropStaged });
      rebuilt.push(partition);
    }
    await clickhouse.insert({
      table: CHECKS_TABLE,
      format: 'JSONEachRow',
      values: [{ partition, stamp, checked_at: new Date().toISOString().replace('T', ' ').replace('Z', '') }],
      clickhouse_settings: { insert_deduplicate: 0 },
    });
  }
  return rebuilt;
}
