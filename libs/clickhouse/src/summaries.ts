import { randomUUID } from 'node:crypto';
import type { ClickHouse } from './client';
import type { MigrationLock } from './migrate';
import { ROLLUP_SITE_TABLE } from './tables/rollups.table';
import { SESSIONS_TABLE } from './tables/sessions.table';

/*
 * Closed-month summaries (infra/clickhouse/migrations/006_closed_month_summaries.sql): derived rows
 * that let the stats read a month as one row per site (visitor states) or per 15-minute bucket
 * (visit totals). Each build records the parts of the partition it read; a reader uses a build only
 * while the partition has exactly those parts, so a summary never answers for data it has not seen.
 */

export const SUMMARY_BUILDS_TABLE = 'summary_builds';
export const SESSIONS_SUMMARY_TABLE = 'sessions_summary_per_15m';
export const SESSIONS_MONTH_SUMMARY_TABLE = 'sessions_summary_per_month';
export const ROLLUP_SITE_MONTH_TABLE = 'rollup_site_per_month';

/** A partition's stamp: its active part names, sorted, comma-separated (a name begins with its partition id). */
const STAMP = "arrayStringConcat(arraySort(groupArray(name)), ',')";

/**
 * `(partition_id, parts)` of every partition of `table` as it is now: the stamp a build records.
 * Part names carry block numbers, so an insert, a merge or a mutation changes the stamp. `table` is
 * one of this module's constants, never user input.
 */
export function partitionStampsSql(table: string): string {
  return `SELECT partition_id, ${STAMP} AS parts
    FROM system.parts
   WHERE database = currentDatabase() AND table = '${table}' AND active
   GROUP BY partition_id`;
}

interface SummaryDefinition {
  source: string;
  /** The tables one build fills, each by its statement: parameters `partition` and `build`. */
  targets: ReadonlyArray<{ table: string; build: string }>;
}

/** One merged row per visit of the partition: FINAL merges each visit's partial rows. */
const PARTITION_VISITS = `SELECT site_id, start, \`end\`, pageviews, events
    FROM ${SESSIONS_TABLE} FINAL
   WHERE _partition_id = {partition:String}`;

const VISIT_TOTALS = `count(), countIf(pageviews = 1), sum(toUInt64(dateDiff('millisecond', start, \`end\`))),
       sum(pageviews), sum(events)`;

export const SUMMARIES: readonly SummaryDefinition[] = [
  {
    source: SESSIONS_TABLE,
    targets: [
      {
        table: SESSIONS_SUMMARY_TABLE,
        build: `INSERT INTO ${SESSIONS_SUMMARY_TABLE}
          (build_id, site_id, partition_id, bucket, visits, bounces, duration_ms, pageviews, events)
          SELECT {build:UUID}, site_id, {partition:String}, toStartOfFifteenMinutes(start) AS bucket, ${VISIT_TOTALS}
            FROM (${PARTITION_VISITS})
           GROUP BY site_id, bucket`,
      },
      {
        // Only visits that start in the partition's own month (a session id's second can differ
        // from its visit's start); a visit counts towards every `from_day` up to its start's day.
        table: SESSIONS_MONTH_SUMMARY_TABLE,
        build: `INSERT INTO ${SESSIONS_MONTH_SUMMARY_TABLE}
          (build_id, site_id, partition_id, from_day, visits, bounces, duration_ms, pageviews, events)
          SELECT {build:UUID}, site_id, {partition:String}, from_day, ${VISIT_TOTALS}
            FROM (${PARTITION_VISITS})
           ARRAY JOIN range(1, toDayOfMonth(start) + 1) AS from_day
           WHERE toString(toYYYYMM(start)) = {partition:String}
           GROUP BY site_id, from_day`,
      },
    ],
  },
  {
    source: ROLLUP_SITE_TABLE,
    targets: [
      {
        // A 15-minute row counts towards every `from_day` up to its own day.
        table: ROLLUP_SITE_MONTH_TABLE,
        build: `INSERT INTO ${ROLLUP_SITE_MONTH_TABLE}
          (build_id, site_id, partition_id, from_day, visitors, pageviews, events)
          SELECT {build:UUID}, site_id, {partition:String}, from_day, uniqMergeState(visitors), sum(pageviews),
                 sum(events)
            FROM ${ROLLUP_SITE_TABLE}
           ARRAY JOIN range(1, toDayOfMonth(bucket) + 1) AS from_day
           WHERE _partition_id = {partition:String}
           GROUP BY site_id, from_day`,
      },
    ],
  },
];

/**
 * `(source, partition_id, build_id)` of the builds whose partition still has the parts it recorded,
 * newest per partition (two builds of one stamp hold the same rows; taking one keeps a partition
 * from counting twice). The stats read it once per query, as a scalar.
 */
export const VALID_BUILDS_SQL = `SELECT source, partition_id, argMax(build_id, built_at) AS build_id
    FROM ${SUMMARY_BUILDS_TABLE}
   WHERE concat(source, '/', parts) IN (
         SELECT concat(table, '/', ${STAMP})
           FROM system.parts
          WHERE database = currentDatabase() AND active
            AND table IN (${SUMMARIES.map((x) => `'${x.source}'`).join(', ')})
          GROUP BY table, partition_id)
   GROUP BY source, partition_id`;

/**
 * The PostgreSQL advisory lock key under which summaries are refreshed, so replicas do not build
 * the same partitions twice. Overlapping runs would still leave a correct state: a builds row is
 * written after its rows and deleted before them.
 */
export const SUMMARY_REFRESH_LOCK_ID = 7_246_003;

/** Partitions are `toYYYYMM`: the current UTC month is still written to and is never summarized. */
const monthId = (at: Date) => `${at.getUTCFullYear()}${String(at.getUTCMonth() + 1).padStart(2, '0')}`;

export interface SummaryBuild {
  source: string;
  partitionId: string;
  buildId: string;
}

async function rows<T>(clickhouse: ClickHouse, query: string, params: Record<string, unknown> = {}) {
  const result = await clickhouse.query({ query, query_params: params, format: 'JSONEachRow' });
  return result.json<T>();
}

/**
 * Builds a summary of every closed partition whose current stamp has none, then drops that
 * partition's older builds. Safe to interrupt anywhere and to run again: the rows of a build whose
 * run died before writing its `summary_builds` row are never read (they stay until the site's
 * deletion or a manual cleanup; at most one build's worth per interrupted run). Runs under `lock`
 * (SUMMARY_REFRESH_LOCK_ID) where several processes may run it.
 */
export function refreshClosedMonthSummaries(
  clickhouse: ClickHouse,
  opts: { now?: Date; lock?: MigrationLock } = {},
): Promise<SummaryBuild[]> {
  const lock: MigrationLock = opts.lock ?? ((work) => work());
  return lock(() => refresh(clickhouse, opts.now ?? new Date()));
}

async function refresh(clickhouse: ClickHouse, now: Date): Promise<SummaryBuild[]> {
  const current = monthId(now);
  const built: SummaryBuild[] = [];
  const valid = await rows<{ source: string; partition_id: string }>(clickhouse, VALID_BUILDS_SQL);
  for (const summary of SUMMARIES) {
    const stamps = await rows<{ partition_id: string; parts: string }>(
      clickhouse,
      partitionStampsSql(summary.source),
    );
    const summarized = new Set(valid.filter((v) => v.source === summary.source).map((v) => v.partition_id));
    for (const { partition_id: partition, parts } of stamps) {
      if (partition >= current || summarized.has(partition)) continue;
      const buildId = randomUUID();
      for (const target of summary.targets) {
        await clickhouse.command({
          query: target.build,
          query_params: { build: buildId, partition },
          clickhouse_settings: { insert_deduplicate: 0 },
        });
      }
      await clickhouse.insert({
        table: SUMMARY_BUILDS_TABLE,
        values: [
          {
            source: summary.source,
            partition_id: partition,
            parts,
            build_id: buildId,
            built_at: new Date().toISOString().replace('T', ' ').replace('Z', ''),
          },
        ],
        format: 'JSONEachRow',
        clickhouse_settings: { insert_deduplicate: 0 },
      });
      await dropOlderBuilds(clickhouse, summary, partition, buildId);
      built.push({ source: summary.source, partitionId: partition, buildId });
    }
  }
  return built;
}

async function dropOlderBuilds(
  clickhouse: ClickHouse,
  summary: SummaryDefinition,
  partition: string,
  keep: string,
): Promise<void> {
  const older = (
    await rows<{ id: string }>(
      clickhouse,
      `SELECT toString(build_id) AS id FROM ${SUMMARY_BUILDS_TABLE}
        WHERE source = {source:String} AND partition_id = {partition:String} AND build_id != {keep:UUID}`,
      { source: summary.source, partition, keep },
    )
  ).map((r) => r.id);
  if (older.length === 0) return;
  // The builds row first: a build is read only while it has one, so its rows go after it.
  await clickhouse.command({
    query: `DELETE FROM ${SUMMARY_BUILDS_TABLE} WHERE source = {source:String} AND build_id IN {drop:Array(UUID)}`,
    query_params: { source: summary.source, drop: older },
  });
  for (const { table } of summary.targets) {
    await clickhouse.command({
      query: `DELETE FROM ${table} WHERE build_id IN {drop:Array(UUID)}`,
      query_params: { drop: older },
    });
  }
}
