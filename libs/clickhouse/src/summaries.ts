import { randomUUID } from 'node:crypto';
import type { ClickHouse } from './client';
import { ROLLUP_LOCATIONS_TABLE, ROLLUP_SITE_TABLE } from './tables/rollups.table';
import { SESSION_FIRST_VALUES, SESSION_VISITOR_VALUES, SESSIONS_TABLE } from './tables/sessions.table';

/*
 * Closed-month summaries (infra/clickhouse/migrations/006_closed_month_summaries.sql): derived rows
 * that let the stats read a closed month, or January to a closed month, as a row per site instead
 * of every 15-minute rollup row and every visit, countries as a row per UTC day instead of 96
 * (other dimensions have day totals of their own: dimension-days.ts), and the visits of a day by
 * source, entry page, country, ... as a row per value. Each build records the stamps (active part
 * names) of the partitions it read, taken before reading them; a build is valid while every one
 * of those partitions still has exactly those parts, so a valid summary holds exactly what its
 * sources hold.
 */

const SUMMARY_BUILDS_TABLE = 'summary_builds';
export const SESSIONS_SUMMARY_TABLE = 'sessions_summary';
export const SITE_SUMMARY_TABLE = 'rollup_site_summary';
export const DIMENSIONS_SUMMARY_TABLE = 'rollup_dimensions_summary';
export const VISIT_ATTRIBUTES_SUMMARY_TABLE = 'sessions_attributes_summary';

/**
 * The `sessions_v3` columns whose values `visit_attributes_month` keeps per day: what an unfiltered
 * breakdown of visits groups by (region and city are only broken down within a country).
 */
export const SUMMARIZED_VISIT_ATTRIBUTES = [
  'entry_page',
  'exit_page',
  ...SESSION_FIRST_VALUES.filter((c) => c !== 'hostname' && c !== 'referrer'),
  ...SESSION_VISITOR_VALUES.filter((c) => c !== 'region' && c !== 'city'),
] as const;

/**
 * - `sessions_month`: visit totals of one partition (month) of `sessions_v3`, per 15-minute bucket
 *   of visit start (`from_day` 0) and from each day of the month to its end (`from_day` 1-31).
 * - `site_month`: `rollup_site_per_15m` totals of one month from each day to its end.
 * - `site_year_prefix`: `rollup_site_per_15m` totals from January to the month (`from_day` 1).
 * - `country_month`: `rollup_locations_per_15m` per country and UTC day of the month, as dimension
 *   `country` of the dimension rows.
 * - `visit_attributes_month`: visit totals and visitors of one month of `sessions_v3` per UTC day
 *   of visit start and value of each `SUMMARIZED_VISIT_ATTRIBUTES` column.
 */
export type SummaryKind =
  'sessions_month' | 'site_month' | 'site_year_prefix' | 'country_month' | 'visit_attributes_month';

const SOURCE: Record<SummaryKind, string> = {
  sessions_month: SESSIONS_TABLE,
  site_month: ROLLUP_SITE_TABLE,
  site_year_prefix: ROLLUP_SITE_TABLE,
  country_month: ROLLUP_LOCATIONS_TABLE,
  visit_attributes_month: SESSIONS_TABLE,
};

/** Where each kind's rows go (BUILD_SQL), so dropping a build reaches every table that holds some. */
const TARGET: Record<SummaryKind, string> = {
  sessions_month: SESSIONS_SUMMARY_TABLE,
  site_month: SITE_SUMMARY_TABLE,
  site_year_prefix: SITE_SUMMARY_TABLE,
  country_month: DIMENSIONS_SUMMARY_TABLE,
  visit_attributes_month: VISIT_ATTRIBUTES_SUMMARY_TABLE,
};

/** The valid builds: the one to read for a kind and month (`YYYYMM`), if any. */
export interface SummaryCatalog {
  build(kind: SummaryKind, month: string): string | undefined;
}

/** The stamp of each partition of `tables`: its active part names, sorted and comma-separated. */
export const partitionStampsSql = (tables: readonly string[]) =>
  `SELECT table, partition_id, arrayStringConcat(arraySort(groupArray(name)), ',') AS parts
    FROM system.parts
   WHERE database = currentDatabase() AND active AND table IN (${tables.map((t) => `'${t}'`).join(', ')})
   GROUP BY table, partition_id`;

const STAMPS_SQL = partitionStampsSql([...new Set(Object.values(SOURCE))]);

const BUILDS_SQL = `SELECT toString(build_id) AS build_id, kind, month, partitions, parts,
         toUnixTimestamp64Milli(built_at) AS built_at
    FROM ${SUMMARY_BUILDS_TABLE}`;

interface BuildRecord {
  build_id: string;
  kind: SummaryKind;
  month: string;
  /** The partitions read, each with its stamp then ('' for a partition that did not exist). */
  partitions: string[];
  parts: string[];
  built_at: string | number;
}

type Stamps = Map<string, Map<string, string>>;

/** Reads the rows of one query: the caller's client, with its own timeouts and logging. */
export type RowsReader = <T>(query: string) => Promise<T[]>;

async function loadState(rows: RowsReader): Promise<{ stamps: Stamps; builds: BuildRecord[] }> {
  const [stampRows, builds] = await Promise.all([
    rows<{ table: string; partition_id: string; parts: string }>(STAMPS_SQL),
    rows<BuildRecord>(BUILDS_SQL),
  ]);
  const stamps: Stamps = new Map();
  for (const s of stampRows) {
    if (!stamps.has(s.table)) stamps.set(s.table, new Map());
    stamps.get(s.table)!.set(s.partition_id, s.parts);
  }
  return { stamps, builds };
}

const keyOf = (kind: string, month: string) => `${kind}:${month}`;

function isValid(build: BuildRecord, stamps: Stamps): boolean {
  const current = stamps.get(SOURCE[build.kind]);
  return build.partitions.every((p, i) => (current?.get(p) ?? '') === build.parts[i]);
}

/** The newest valid build of each kind and month. */
function validBuilds(stamps: Stamps, builds: readonly BuildRecord[]): Map<string, BuildRecord> {
  const valid = new Map<string, BuildRecord>();
  for (const b of builds) {
    if (!isValid(b, stamps)) continue;
    const key = keyOf(b.kind, b.month);
    const seen = valid.get(key);
    if (!seen || Number(b.built_at) > Number(seen.built_at)) valid.set(key, b);
  }
  return valid;
}

/** The catalog as the stats read it: valid builds as of now. */
export async function loadSummaryCatalog(rows: RowsReader): Promise<SummaryCatalog> {
  const { stamps, builds } = await loadState(rows);
  const valid = validBuilds(stamps, builds);
  return { build: (kind, month) => valid.get(keyOf(kind, month))?.build_id };
}

/** One merged row per visit of the partition: FINAL merges each visit's partial rows. */
const PARTITION_VISITS = `SELECT site_id, start, \`end\`, pageviews, events
    FROM ${SESSIONS_TABLE} FINAL
   WHERE _partition_id = {partition:String}`;

const VISIT_TOTALS = `count(), countIf(pageviews = 1), sum(toUInt64(dateDiff('millisecond', start, \`end\`))),
       sum(pageviews), sum(events)`;

/** The statements of a build; parameters `build`, `partition` (the month) and `partitions` (all read). */
const BUILD_SQL: Record<SummaryKind, readonly string[]> = {
  sessions_month: [
    `INSERT INTO ${TARGET.sessions_month}
       (build_id, site_id, from_day, bucket, visits, bounces, duration_ms, pageviews, events)
     SELECT {build:UUID}, site_id, 0, toStartOfFifteenMinutes(start) AS bucket, ${VISIT_TOTALS}
       FROM (${PARTITION_VISITS})
      GROUP BY site_id, bucket`,
    // Only visits that start in the partition's own month (a session id's second and its visit's
    // start can fall either side of midnight); a visit counts towards each day up to its start's.
    `INSERT INTO ${TARGET.sessions_month}
       (build_id, site_id, from_day, bucket, visits, bounces, duration_ms, pageviews, events)
     SELECT {build:UUID}, site_id, from_day, toStartOfMonth(min(start)), ${VISIT_TOTALS}
       FROM (${PARTITION_VISITS})
      ARRAY JOIN range(1, toDayOfMonth(start) + 1) AS from_day
      WHERE toString(toYYYYMM(start)) = {partition:String}
      GROUP BY site_id, from_day`,
  ],
  // A 15-minute row counts towards each day up to its own.
  site_month: [
    `INSERT INTO ${TARGET.site_month} (build_id, site_id, from_day, visitors, pageviews, events)
     SELECT {build:UUID}, site_id, from_day, uniqMergeState(visitors), sum(pageviews), sum(events)
       FROM ${ROLLUP_SITE_TABLE}
      ARRAY JOIN range(1, toDayOfMonth(bucket) + 1) AS from_day
      WHERE _partition_id = {partition:String}
      GROUP BY site_id, from_day`,
  ],
  site_year_prefix: [
    `INSERT INTO ${TARGET.site_year_prefix} (build_id, site_id, from_day, visitors, pageviews, events)
     SELECT {build:UUID}, site_id, 1, uniqMergeState(visitors), sum(pageviews), sum(events)
       FROM ${ROLLUP_SITE_TABLE}
      WHERE _partition_id IN {partitions:Array(String)}
      GROUP BY site_id`,
  ],
  // The location rollup keeps (country, region, city) per row; a country's day merges them all.
  country_month: [
    `INSERT INTO ${TARGET.country_month}
       (build_id, site_id, dimension, day, value, visitors, pageviews, events)
     SELECT {build:UUID}, site_id, 'country', toDate(bucket) AS day, toString(country) AS value,
            uniqMergeState(visitors), sum(pageviews), sum(events)
       FROM ${ROLLUP_LOCATIONS_TABLE}
      WHERE _partition_id = {partition:String}
      GROUP BY site_id, day, value`,
  ],
  // Merged values as the stats read them: first values and pages from their merged tuples.
  // Every visit of the partition, by its day of start, even one starting the day before or after
  // the month (a session id's second and its visit's start can fall either side of midnight): the
  // stats read a built partition's visits of the covered days from here and no other way.
  visit_attributes_month: [
    `INSERT INTO ${TARGET.visit_attributes_month}
       (build_id, site_id, attribute, day, value, visitors, visits, bounces, duration_ms, pageviews, events)
     SELECT {build:UUID}, site_id, pair.1 AS attribute, toDate(start) AS day, pair.2 AS value,
            uniqState(visitor_id), ${VISIT_TOTALS}
       FROM (
         SELECT site_id, visitor_id, start, \`end\`, pageviews, events,
                [${SUMMARIZED_VISIT_ATTRIBUTES.map((c) =>
                  (SESSION_VISITOR_VALUES as readonly string[]).includes(c)
                    ? `('${c}', toString(${c}))`
                    : `('${c}', ${c}.3)`,
                ).join(', ')}] AS pairs
           FROM ${SESSIONS_TABLE} FINAL
          WHERE _partition_id = {partition:String}
       )
      ARRAY JOIN pairs AS pair
      GROUP BY site_id, attribute, day, value`,
  ],
};

/**
 * The PostgreSQL advisory lock key under which summaries are refreshed, so replicas do not build
 * the same months twice. Overlapping runs would still leave a correct state: a builds row is
 * written after its rows and deleted before them.
 */
export const SUMMARY_REFRESH_LOCK_ID = 7_246_003;

/**
 * How long a superseded build is kept: readers hold a catalog for a moment (the api caches it for
 * about a second), so a build they may still name must not lose its rows under them.
 */
export const SUPERSEDED_BUILD_GRACE_MS = 10 * 60_000;

/**
 * The partition id of the UTC month holding `at`: `sessions_v3` and the rollups are partitioned by
 * `toYYYYMM`, and the summaries are keyed by it.
 */
export const monthPartition = (at: Date) =>
  `${at.getUTCFullYear()}${String(at.getUTCMonth() + 1).padStart(2, '0')}`;

/** January to `month` of its year, as partition ids. */
function yearToMonth(month: string): string[] {
  const year = Number(month.slice(0, 4));
  return Array.from({ length: Number(month.slice(4)) }, (_, i) =>
    monthPartition(new Date(Date.UTC(year, i, 1))),
  );
}

export interface SummaryBuild {
  kind: SummaryKind;
  month: string;
  buildId: string;
}

/**
 * Builds what is missing for every closed month whose sources changed since its last valid build
 * (or that has none): month summaries of `sessions_v3` (totals, and per attribute and day),
 * `rollup_site_per_15m` and `rollup_locations_per_15m` (per country and day), and
 * January-to-month prefixes of the site rollup. Then drops builds superseded for longer than the
 * grace. Safe to interrupt anywhere and to run again: rows whose run died before writing their
 * `summary_builds` row are never read (they stay until the site's deletion, at most one build's
 * worth per interrupted run). Where several processes may run it, the caller holds
 * SUMMARY_REFRESH_LOCK_ID (the worker does, around this and `refreshDimensionDays`).
 */
export function refreshClosedMonthSummaries(
  clickhouse: ClickHouse,
  opts: { now?: Date; supersededGraceMs?: number } = {},
): Promise<SummaryBuild[]> {
  return refresh(clickhouse, opts.now ?? new Date(), opts.supersededGraceMs ?? SUPERSEDED_BUILD_GRACE_MS);
}

/** `now` decides which month is current; the grace runs on the clock, as `built_at` does. */
async function refresh(clickhouse: ClickHouse, now: Date, graceMs: number): Promise<SummaryBuild[]> {
  const rows: RowsReader = async <T>(query: string) =>
    (await clickhouse.query({ query, format: 'JSONEachRow' })).json<T>();
  const { stamps, builds } = await loadState(rows);
  const valid = validBuilds(stamps, builds);
  // The current UTC month is still written to and never summarized.
  const current = monthPartition(now);
  const wanted: Array<{ kind: SummaryKind; month: string; partitions: string[] }> = [];
  const monthly = ['sessions_month', 'site_month', 'country_month', 'visit_attributes_month'] as const;
  for (const kind of monthly) {
    for (const month of stamps.get(SOURCE[kind])?.keys() ?? []) {
      if (month < current) wanted.push({ kind, month, partitions: [month] });
    }
  }
  for (const month of stamps.get(ROLLUP_SITE_TABLE)?.keys() ?? []) {
    // January's prefix is its month summary.
    if (month < current && !month.endsWith('01')) {
      wanted.push({ kind: 'site_year_prefix', month, partitions: yearToMonth(month) });
    }
  }

  const built: SummaryBuild[] = [];
  for (const { kind, month, partitions } of wanted.sort((a, b) => a.month.localeCompare(b.month))) {
    if (valid.has(keyOf(kind, month))) continue;
    const source = stamps.get(SOURCE[kind]);
    // The stamps read above, before any of the data: a change after them makes the build invalid.
    const parts = partitions.map((p) => source?.get(p) ?? '');
    const buildId = randomUUID();
    for (const query of BUILD_SQL[kind]) {
      await clickhouse.command({
        query,
        query_params: { build: buildId, partition: month, partitions },
        clickhouse_settings: { insert_deduplicate: 0 },
      });
    }
    await clickhouse.insert({
      table: SUMMARY_BUILDS_TABLE,
      format: 'JSONEachRow',
      values: [
        {
          build_id: buildId,
          kind,
          month,
          partitions,
          parts,
          built_at: new Date().toISOString().replace('T', ' ').replace('Z', ''),
        },
      ],
      clickhouse_settings: { insert_deduplicate: 0 },
    });
    built.push({ kind, month, buildId });
  }
  await dropSuperseded(clickhouse, builds, graceMs);
  return built;
}

/** Builds older than the newest of their kind and month, once that one is past the grace. */
async function dropSuperseded(clickhouse: ClickHouse, builds: readonly BuildRecord[], graceMs: number) {
  const newest = new Map<string, number>();
  for (const b of builds) {
    const key = keyOf(b.kind, b.month);
    newest.set(key, Math.max(newest.get(key) ?? 0, Number(b.built_at)));
  }
  const drop = builds
    .filter((b) => {
      const latest = newest.get(keyOf(b.kind, b.month))!;
      return Number(b.built_at) < latest && Date.now() - latest >= graceMs;
    })
    .map((b) => b.build_id);
  if (drop.length === 0) return;
  // The builds row first: a build is read only while it has one, so its rows go after it.
  await clickhouse.command({
    query: `DELETE FROM ${SUMMARY_BUILDS_TABLE} WHERE build_id IN {drop:Array(UUID)}`,
    query_params: { drop },
  });
  for (const table of new Set(Object.values(TARGET))) {
    await clickhouse.command({
      query: `DELETE FROM ${table} WHERE build_id IN {drop:Array(UUID)}`,
      query_params: { drop },
    });
  }
}
