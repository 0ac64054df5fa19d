-- Closed-month summaries (006) of the visits' attributes: for the visits of one closed month's
-- partition of `sessions_v2` (read with FINAL), per site, attribute, value and UTC day of visit
-- start, the visit totals and the visitors. Built by the worker (kind `visit_attributes_month` in
-- libs/clickhouse/src/summaries.ts) and valid, like the others, only while that partition still
-- has the parts it was built from. A visit whose session id and start fall either side of the
-- month's end is kept under its start's day, so a partition's build holds all of its visits.
--
-- Why: an unfiltered breakdown by a visit's source, entry or exit page, country or device reads
-- every visit of its period from `sessions_v2` and groups them; 12 months of the stats benchmark's
-- site by channel took ~530 ms. Visit totals add up over days, and `uniq` states merge to the same
-- state whatever the grouping of their inputs, so these rows stand for the closed days exactly.
-- `attribute` is the `sessions_v2` column (`referrer_domain` for the referrer). Region and city are
-- left out: the contract breaks them down within a country only, i.e. always filtered.
CREATE TABLE IF NOT EXISTS sessions_attributes_summary
(
    build_id UUID,
    site_id UUID,
    attribute LowCardinality(String),
    day Date,
    value String,
    visitors AggregateFunction(uniq, UInt64),
    visits UInt64,
    bounces UInt64,
    duration_ms UInt64,
    pageviews UInt64,
    events UInt64
)
ENGINE = MergeTree
ORDER BY (site_id, attribute, build_id, day, value)
SETTINGS index_granularity = 1024;
