/**
 * Rollup tables (infra/clickhouse/migrations/003_rollups.sql): 15-minute UTC buckets, so a range
 * in any IANA timezone is a whole number of buckets. Cells hold `visitors` (uniq state: read with
 * `uniqMerge`), `pageviews` and `events` (sums). Visit metrics are in `sessions`, not here.
 */
/** Site totals per bucket. */
export const ROLLUP_SITE_TABLE = 'rollup_site_per_15m';

/** Long form: one row per (dimension, value, bucket). */
export const ROLLUP_DIMENSIONS_TABLE = 'rollup_dimensions_per_15m';

/** What `dimension` can be in the long-form rollup, and which events feed it. */
export const ROLLUP_DIMENSIONS = {
  page: 'pathname of pageviews',
  hostname: 'hostname of every event',
  event: 'name of every event',
  exit_link: 'link_url of outbound clicks; `events` counts the clicks',
  device: 'device of every event',
  browser: 'browser of every event',
  os: 'os of every event',
} as const;

export type RollupDimension = keyof typeof ROLLUP_DIMENSIONS;

/** country -> region -> city per bucket, so regions and cities break down within their parent. */
export const ROLLUP_LOCATIONS_TABLE = 'rollup_locations_per_15m';
