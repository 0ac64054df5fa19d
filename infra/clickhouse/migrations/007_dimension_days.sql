-- The long-form dimension rollup (003) again, per UTC day, so a breakdown by page, hostname, event,
-- exit link, device, browser or OS reads one row per value and day for the whole UTC days of its
-- period and 15-minute rows only for the partial days at its ends (a period's bounds are local
-- midnights, which are UTC midnights only in zones at offset 0).
--
-- Why: `uniqMerge` pays per state and per hash. A 30-day page breakdown merged ~366 k fifteen-minute
-- states (one per page and bucket); by day it merges ~9 k, holding about as many hashes, since a
-- visitor rarely views a page in two buckets of a day (66 -> ~50 ms on the stats bench's site).
-- `uniq` is deterministic, so day states merged with 15-minute states count what the 15-minute
-- states alone count.
--
-- The view reads what 003's view writes (each insert's 15-minute rows), not `events`: that is a few
-- hundred rows per insert whatever its size, and the events are not unpacked a second time. Its
-- blocks are deduplicated like 003's: the consumer's `insert_deduplication_token` reaches views of
-- views, so a replayed batch adds nothing here either.
CREATE TABLE IF NOT EXISTS rollup_dimensions_per_day
(
    site_id UUID,
    dimension LowCardinality(String),
    day Date,
    value String,
    visitors AggregateFunction(uniq, UInt64),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, dimension, day, value)
-- Granules of 1024 rows: a month of one site's pages is a few thousand rows, which at the default
-- 8192 would be read by one thread; smaller granules let both cores share the merge.
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 1024;

-- Upgrading: this copies the 15-minute rows per day, then adds the view. Rows that a consumer
-- inserts between the two would be missing (before the copy) or counted twice (between the copy
-- and the view), so stop every consumer before upgrading, as for 004; the new version's first
-- process applies this before it consumes. Re-running after an interruption starts again from an
-- empty table.
TRUNCATE TABLE rollup_dimensions_per_day;

-- Without block deduplication: a re-run's blocks must not be dropped as repeats of the first try's.
INSERT INTO rollup_dimensions_per_day
SELECT site_id, dimension, toDate(bucket) AS day, value,
       uniqMergeState(visitors), sum(pageviews), sum(events)
FROM rollup_dimensions_per_15m
GROUP BY site_id, dimension, day, value
SETTINGS insert_deduplicate = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_dimensions_per_day_mv_v1 TO rollup_dimensions_per_day AS
SELECT
    site_id,
    dimension,
    toDate(bucket) AS day,
    value,
    uniqMergeState(visitors) AS visitors,
    sum(pageviews) AS pageviews,
    sum(events) AS events
FROM rollup_dimensions_per_15m
GROUP BY site_id, dimension, day, value;
