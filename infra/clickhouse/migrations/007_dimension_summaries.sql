-- Closed-month summaries (006) of the long-form dimension rollup: one row per site, dimension,
-- value and UTC day of a closed month, built by the worker (kind `dimension_month` in
-- libs/clickhouse/src/summaries.ts) and valid, like the others, only while the month's partition of
-- `rollup_dimensions_per_15m` still has the parts it was built from.
--
-- Why: `uniqMerge` pays per state as well as per hash. A 30-day page breakdown merged one state per
-- page and 15 minutes (~366 k on the stats benchmark's site); by day it merges ~96 times fewer, with
-- about as many hashes, since a visitor rarely views a page in two buckets of a day. A day row
-- rather than a rest-of-month row (as `rollup_site_summary` has): a site has one total but may have
-- thousands of pages, and 31 rows per page and month would cost more to build and keep than they
-- save. Built by the worker rather than by a view on every insert: a view of the 15-minute view
-- cost the consumer 10-20% of its throughput in the benchmark, and a closed month barely changes.
CREATE TABLE IF NOT EXISTS rollup_dimensions_summary
(
    build_id UUID,
    site_id UUID,
    dimension LowCardinality(String),
    day Date,
    value String,
    visitors AggregateFunction(uniq, UInt64),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64)
)
ENGINE = MergeTree
ORDER BY (site_id, dimension, build_id, day, value)
SETTINGS index_granularity = 1024;
