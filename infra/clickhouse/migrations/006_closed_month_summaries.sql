-- Summaries of closed months, so long periods read a row per month (or per 15 minutes) instead of
-- every visit or every 15-minute visitor state: a 12-month aggregate merged 35,040 `uniq` states
-- (about 2.3 million hashes, ~55 ms) and read 2.3 million visits (~40 ms).
--
-- A summary is derived data, never the only copy: the worker builds one for each partition (a UTC
-- month) of `sessions_v2` and `rollup_site_per_15m` that is no longer the current month, and
-- records in `summary_builds` the partition's active parts at the moment it started reading. The
-- stats read a summary only while the partition still has exactly those parts; any insert (a late
-- event), merge or mutation (a site's deletion) makes new parts, and the stats read that partition
-- as before until the next build (libs/clickhouse/src/summaries.ts). Answers are therefore always
-- those of the source tables.

-- One row per build, written after the build's rows: a build without this row is ignored.
CREATE TABLE IF NOT EXISTS summary_builds
(
    -- The summarized table.
    source LowCardinality(String),
    partition_id String,
    -- The partition's active part names, sorted and comma-separated, read before its rows were.
    parts String,
    build_id UUID,
    built_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (source, partition_id, built_at);

-- Visit totals of a closed month of `sessions_v2`, per 15-minute bucket of the visit's start (any
-- period's bounds in any time zone are bucket bounds, as for the rollups).
CREATE TABLE IF NOT EXISTS sessions_summary_per_15m
(
    build_id UUID,
    site_id UUID,
    bucket DateTime('UTC'),
    visits UInt64,
    bounces UInt64,
    duration_ms UInt64,
    pageviews UInt64,
    events UInt64
)
ENGINE = MergeTree
ORDER BY (site_id, bucket, build_id);

-- A closed month of `rollup_site_per_15m` in one row per site: its visitor state is the merge of
-- the month's 15-minute states, and `uniq` merges the same whatever the grouping of the states
-- (it is deterministic), so mixing month and 15-minute states answers as the 15-minute ones alone.
CREATE TABLE IF NOT EXISTS rollup_site_per_month
(
    build_id UUID,
    site_id UUID,
    partition_id String,
    visitors AggregateFunction(uniq, UInt64),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64)
)
ENGINE = MergeTree
ORDER BY (site_id, partition_id, build_id);
