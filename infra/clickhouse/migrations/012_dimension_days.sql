-- The long-form dimension rollup per UTC day, with visitors as a plain count instead of a state.
--
-- Why a count is enough: a visitor id is a keyed hash under the salt of the UTC day the event
-- arrived (libs/enrichment/src/visitor-id.ts; ingest rotates the salt at UTC midnight), so no id
-- appears on two UTC days and a value's visitors over several days are the sum of each day's.
-- Merging `uniq` states cost a 30-day page breakdown ~40 ms for ~700 k hashes, whatever their
-- grouping; adding 30 counts per page costs next to nothing.
--
-- The worker fills a month's partition for the UTC days before today (dimension-days.ts, which
-- also says which dimensions) and replaces it whole (REPLACE PARTITION from the staging table)
-- when its sources changed. The stats read a (site, dimension, day) from here only while its
-- `events` add up to the day's events (pageviews, for pages) in the site rollup; those only grow
-- (rollups are kept for ever, a site's deletion removes both), so a late event sends its day back
-- to the 15-minute rows until the next build.
CREATE TABLE IF NOT EXISTS rollup_dimensions_per_day
(
    site_id UUID,
    dimension LowCardinality(String),
    day Date,
    value String,
    visitors UInt64,
    pageviews UInt64,
    events UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, dimension, day, value)
SETTINGS index_granularity = 1024;

-- Where a build is made before it replaces its partition: same structure, so REPLACE PARTITION
-- swaps the parts in one step and readers see either the old month or the new one.
CREATE TABLE IF NOT EXISTS rollup_dimensions_per_day_staging AS rollup_dimensions_per_day;

-- The stamp (active part names of the 15-minute partition, and the first day not built) each
-- month was last found consistent at, so the worker compares a month's totals again only after
-- it changed.
CREATE TABLE IF NOT EXISTS rollup_dimensions_per_day_checks
(
    partition String,
    stamp String,
    checked_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(checked_at)
ORDER BY partition;

-- The day states of `dimension_month` builds (007) answered the same breakdowns and nothing reads
-- them now: forget the builds, then their rows (`country_month` builds keep theirs).
DELETE FROM summary_builds WHERE kind = 'dimension_month';

DELETE FROM rollup_dimensions_summary WHERE dimension != 'country';
