import { randomUUID } from 'node:crypto';
import type { ClickHouse } from './client';
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
export const ROLLUP_SITE_MONTH_TABLE = 'rollup_site_per_month';

/**
 * `(partition_id, parts)` of every partition of `table` as it is now: the stamp a build records and
 * the one a reader compares it with. Part names carry block numbers, so an insert, a merge or a
 * mutation changes the stamp. `table` is one of this module's constants, never user input.
 */
export function partitionStampsSql(table: string): string {
  return `SELECT partition_id, arrayStringConcat(arraySort(groupArray(name)), ',') AS parts
    FROM system.parts
   WHERE database = currentDatabase() AND table = '${table}' AND active
   GROUP BY partition_id`;
}

/**
 * The builds of `source` whose stamp is the partition's current one, newest per partition (two
 * builds of the same stamp hold the same rows; taking one keeps a partition from counting twice).
 * Columns: `partition_id`, `build_id`.
 */
export function validBuildsSql(source: string): string {
  return `SELECT partition_id, argMax(build_id, built_at) AS build_id
    FROM ${SUMMARY_BUILDS_TABLE}
   WHERE source = '${source}' AND (partition_id, parts) IN (${partitionStampsSql(source)})
   GROUP BY partition_id`;
}

interface SummaryDefinition {
  source: string;
  target: string;
  /** Fills `target` from one partition of `source`: parameters `partition` and `build`. */
  build: string;
}

export const SUMMARIES: readonly SummaryDefinition[] = [
  {
    source: SESSIONS_TABLE,
    target: SESSIONS_SUMMARY_TABLE,
    // FINAL merges each visit's partial rows, so every visit counts once with its final values.
    build: `INSERT INTO ${SESSIONS_SUMMARY_TABLE}
      (build_id, site_id, bucket, visits, bounces, duration_ms, pageviews, events)
      SELECT {build:UUID}, site_id, toStartOfFifteenMinutes(start) AS bucket, count(),
             countIf(pageviews = 1), sum(toUInt64(dateDiff('millisecond', start, \`end\`))),
             sum(pageviews), sum(events)
        FROM ${SESSIONS_TABLE} FINAL
       WHERE _partition_id = {partition:String}
       GROUP BY site_id, bucket`,
  },
  {
    source: ROLLUP_SITE_TABLE,
    target: ROLLUP_SITE_MONTH_TABLE,
    build: `INSERT INTO ${ROLLUP_SITE_MONTH_TABLE}
      (build_id, site_id, partition_id, visitors, pageviews, events)
      SELECT {build:UUID}, site_id, {partition:String}, uniqMergeState(visitors), sum(pageviews), sum(events)
        FROM ${ROLLUP_SITE_TABLE}
       WHERE _partition_id = {partition:String}
       GROUP BY site_id`,
  },
];

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
 * Builds a summary of every closed partition whose current stamp has none, then drops the rows of
 * that partition's older builds. Safe to interrupt anywhere and to run again: rows of a build
 * without its `summary_builds` row are never read and are dropped by the partition's next build.
 * One run at a time (the worker's repeating job); two at once only waste work, as a reader takes
 * one build per partition.
 */
export async function refreshClosedMonthSummaries(
  clickhouse: ClickHouse,
  now: Date = new Date(),
): Promise<SummaryBuild[]> {
  const current = monthId(now);
  const built: SummaryBuild[] = [];
  for (const summary of SUMMARIES) {
    const stamps = await rows<{ partition_id: string; parts: string }>(
      clickhouse,
      partitionStampsSql(summary.source),
    );
    const valid = new Set(
      (await rows<{ partition_id: string }>(clickhouse, validBuildsSql(summary.source))).map(
        (r) => r.partition_id,
      ),
    );
    for (const { partition_id: partition, parts } of stamps) {
      if (partition >= current || valid.has(partition)) continue;
      const buildId = randomUUID();
      await clickhouse.command({
        query: summary.build,
        query_params: { build: buildId, partition },
        clickhouse_settings: { insert_deduplicate: 0 },
      });
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
  // Rows of an interrupted build have no builds row: find them through the target table too.
  const orphans = (
    await rows<{ id: string }>(
      clickhouse,
      `SELECT DISTINCT toString(build_id) AS id FROM ${summary.target}
        WHERE build_id NOT IN (SELECT build_id FROM ${SUMMARY_BUILDS_TABLE} WHERE source = {source:String})`,
      { source: summary.source },
    )
  ).map((r) => r.id);
  const drop = [...new Set([...older, ...orphans])];
  if (drop.length === 0) return;
  await clickhouse.command({
    query: `DELETE FROM ${summary.target} WHERE build_id IN {drop:Array(UUID)}`,
    query_params: { drop },
  });
  await clickhouse.command({
    query: `DELETE FROM ${SUMMARY_BUILDS_TABLE} WHERE source = {source:String} AND build_id IN {drop:Array(UUID)}`,
    query_params: { source: summary.source, drop },
  });
}
