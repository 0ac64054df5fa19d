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
    partition_id String,
    bucket DateTime('UTC'),
    visits UInt64,
    bounces UInt64,
    duration_ms UInt64,
    pageviews UInt64,
    events UInt64
)
ENGINE = MergeTree
ORDER BY (site_id, bucket, build_id);

-- The same totals as one row per day of the month, holding the visits that start from that day to
-- the month's end (`from_day` 1: the whole month), for the visits whose start lies in their
-- partition's month; the others (a session id's second and its visit's start can fall either side
-- of midnight) are read from the 15-minute rows.
CREATE TABLE IF NOT EXISTS sessions_summary_per_month
(
    build_id UUID,
    site_id UUID,
    partition_id String,
    from_day UInt8,
    visits UInt64,
    bounces UInt64,
    duration_ms UInt64,
    pageviews UInt64,
    events UInt64
)
ENGINE = MergeTree
ORDER BY (site_id, partition_id, from_day, build_id);

-- A closed month of `rollup_site_per_15m` per site, as one row per day of the month holding the
-- totals from that day to the month's end: `from_day` 1 is the whole month, and a period starting
-- inside a closed month reads the rest of it as one row too. A visitor state of a month merges
-- ~65,536 hashes at most (`uniq` samples beyond), where its 15-minute states hold every visitor of
-- every bucket; and `uniq` merges to the same state whatever the grouping of its inputs (it is
-- deterministic), so mixing these rows with 15-minute ones answers as the 15-minute ones alone.
CREATE TABLE IF NOT EXISTS rollup_site_per_month
(
    build_id UUID,
    site_id UUID,
    partition_id String,
    from_day UInt8,
    visitors AggregateFunction(uniq, UInt64),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64)
)
ENGINE = MergeTree
ORDER BY (site_id, partition_id, from_day, build_id)
-- A row's visitor state is up to 256 KiB and a query wants one row of each month: a granule of one
-- row keeps it from decompressing and parsing its neighbours' states too.
SETTINGS index_granularity = 1;
