-- Rollups: AggregatingMergeTree tables fed by materialized views on `events`, kept for ever (no
-- TTL), so the stats api answers old periods after raw events expire.
--
-- Grain: 15-minute UTC buckets. Every UTC offset in use (+05:30, +05:45, +08:45, +12:45...) and
-- every DST shift (Lord Howe's is 30 minutes) is a multiple of 15 minutes, so a local day, week or
-- month in any IANA zone is a whole number of buckets: summing buckets gives the exact local-day
-- answer. Hourly local intervals are also whole buckets for the same reason.
--
-- What they hold, per cell: `visitors` (uniqState(visitor_id)), `pageviews`, `events`. Readers
-- merge cells over a range: `uniqMerge(visitors)`, `sum(pageviews)`, `sum(events)`.
-- uniq is ClickHouse's adaptive-sampling counter over 32-bit hashes. It is deterministic: the
-- merged state of any split of the rows equals the state of all of them, so an answer does not
-- depend on batch or bucket boundaries. Up to 65536 distinct visitors per answer it keeps every
-- hash, so it is exact but for hash collisions (expected n²/2³³ lost visitors: 0.01 at 10000);
-- above that it keeps a 1/2^k sample of 32768..65536 hashes, a relative error of about 0.5%.
-- The stats layer uses the same `uniq` on raw events, so rollup and raw answers are identical.
--
-- Visit metrics are not here: visits, bounces and duration depend on the whole session (a batch
-- holding a session's first pageview cannot know whether a second one follows), so no view on
-- event batches can add them up exactly. They come from the `sessions` table (002), which is the
-- exact per-visit rollup and is kept for ever too. Session-level dimensions (entry_page,
-- exit_page, referrer, channel, utm_*) come from `sessions` for the same reason: they are the
-- values of the session's first or last event, not of each event.
--
-- Dimensions here are those whose value an event carries itself: page, hostname, event name, exit
-- link, and device/browser/os/country/region/city. The last six are functions of (IP, user agent),
-- which also determine the visitor id and hence the session, so per-event and per-session values
-- agree and these rollups match `sessions` breakdowns.
--
-- Each table has a deduplication window: the events insert passes its token on to the views
-- (`deduplicate_blocks_in_dependent_materialized_views`), so a replayed batch is dropped here too.

-- Site totals per bucket: the aggregate and timeseries endpoints without filters.
CREATE TABLE IF NOT EXISTS rollup_site_per_15m
(
    site_id UUID,
    bucket DateTime('UTC'),
    visitors AggregateFunction(uniq, UInt64),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (site_id, bucket)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_site_per_15m_mv_v1 TO rollup_site_per_15m AS
SELECT
    site_id,
    toStartOfFifteenMinutes(timestamp) AS bucket,
    uniqState(visitor_id) AS visitors,
    toUInt64(countIf(name = 'pageview')) AS pageviews,
    toUInt64(count()) AS events
FROM events
GROUP BY site_id, bucket;

-- One long-form table for the single-value dimensions, one row per (dimension, value, bucket):
--   page       pathname of pageviews only (the page breakdown and page-path goals count views)
--   hostname   hostname of every event
--   event      event name of every event (pageview included): event breakdown, event-name goals
--   exit_link  link_url of outbound clicks (events with a link_url): `events` are the clicks
--   device, browser, os
-- A breakdown reads `WHERE site_id = ? AND dimension = ? AND bucket >= ? AND bucket < ?
-- GROUP BY value`, one contiguous range of the sorting key.
CREATE TABLE IF NOT EXISTS rollup_dimensions_per_15m
(
    site_id UUID,
    dimension LowCardinality(String),
    bucket DateTime('UTC'),
    value String,
    visitors AggregateFunction(uniq, UInt64),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (site_id, dimension, bucket, value)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_dimensions_per_15m_mv_v1 TO rollup_dimensions_per_15m AS
SELECT
    site_id,
    dim.1 AS dimension,
    toStartOfFifteenMinutes(timestamp) AS bucket,
    dim.2 AS value,
    uniqState(visitor_id) AS visitors,
    toUInt64(countIf(name = 'pageview')) AS pageviews,
    toUInt64(count()) AS events
FROM events
ARRAY JOIN
    arrayMap(
        d -> (d.1, d.2),
        arrayFilter(
            d -> d.3,
            [
                ('page', pathname, name = 'pageview'),
                ('hostname', toString(hostname), true),
                ('event', toString(name), true),
                ('exit_link', link_url, link_url != ''),
                ('device', toString(device), true),
                ('browser', toString(browser), true),
                ('os', toString(os), true)
            ]
        )
    ) AS dim
GROUP BY site_id, dimension, bucket, value;

-- Locations keep the hierarchy in the key because the contract breaks regions down within a
-- country and cities within a country (and optionally a region), and names repeat across
-- countries ("Springfield"): country = GROUP BY country; region = WHERE country = ? GROUP BY
-- region; city = WHERE country = ? [AND region = ?] GROUP BY city.
CREATE TABLE IF NOT EXISTS rollup_locations_per_15m
(
    site_id UUID,
    bucket DateTime('UTC'),
    country LowCardinality(String),
    region LowCardinality(String),
    city String,
    visitors AggregateFunction(uniq, UInt64),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (site_id, bucket, country, region, city)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_locations_per_15m_mv_v1 TO rollup_locations_per_15m AS
SELECT
    site_id,
    toStartOfFifteenMinutes(timestamp) AS bucket,
    country,
    region,
    toString(city) AS city,
    uniqState(visitor_id) AS visitors,
    toUInt64(countIf(name = 'pageview')) AS pageviews,
    toUInt64(count()) AS events
FROM events
GROUP BY site_id, bucket, country, region, city;
