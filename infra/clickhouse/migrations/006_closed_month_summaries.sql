-- Summaries of closed months, so long periods read a row per month instead of every 15-minute
-- rollup row and every visit: a 12-month aggregate merged 35,040 `uniq` states (about 2.3 million
-- hashes) and read 2.3 million visits.
--
-- A summary is derived data, never the only copy. The worker builds them for every month before the
-- current UTC month (libs/clickhouse/src/summaries.ts) and records, in `summary_builds`, the active
-- parts of each source partition it read, as they were before it read them. The stats read a build
-- only while each of those partitions still has exactly those parts: an insert (a late event), a
-- merge or a mutation (a site's deletion) makes new parts, and the stats read that month from its
-- sources until the next build. A summary therefore never answers for data it has not seen.

-- One row per build, written after the build's rows: a build without it is never read.
CREATE TABLE IF NOT EXISTS summary_builds
(
    build_id UUID,
    -- sessions_month, site_month or site_year_prefix (summaries.ts says what each holds).
    kind LowCardinality(String),
    -- YYYYMM: the month summarized, or the last month of a January-to-month prefix.
    month String,
    -- The source partitions read, each with its sorted, comma-separated part names ('' if absent).
    partitions Array(String),
    parts Array(String),
    built_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (kind, month, built_at);

-- Visit totals of a month of `sessions_v2` (its visits merged with FINAL): per 15-minute bucket of
-- visit start (`from_day` 0; any period's bounds in any time zone are bucket bounds), and from each
-- day of the month to its end (`from_day` 1-31, visits starting in the month only).
CREATE TABLE IF NOT EXISTS sessions_summary
(
    build_id UUID,
    site_id UUID,
    from_day UInt8,
    bucket DateTime('UTC'),
    visits UInt64,
    bounces UInt64,
    duration_ms UInt64,
    pageviews UInt64,
    events UInt64
)
ENGINE = MergeTree
ORDER BY (site_id, build_id, from_day, bucket);

-- Site totals of `rollup_site_per_15m` from each day of a month to its end (`from_day` 1-31), or
-- over January to a month (`from_day` 1). A visitor state merges ~65,536 hashes at most (`uniq`
-- samples beyond), where 15-minute states hold every visitor of every bucket; and `uniq` merges to
-- the same state whatever the grouping of its inputs (it is deterministic), so mixing these rows
-- with 15-minute ones answers as the 15-minute ones alone.
CREATE TABLE IF NOT EXISTS rollup_site_summary
(
    build_id UUID,
    site_id UUID,
    from_day UInt8,
    visitors AggregateFunction(uniq, UInt64),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64)
)
ENGINE = MergeTree
ORDER BY (site_id, build_id, from_day)
-- A row's visitor state is up to 256 KiB and a query wants a few rows: a granule of one row keeps it
-- from decompressing and parsing its neighbours' states too.
SETTINGS index_granularity = 1;
