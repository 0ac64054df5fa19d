-- Where the consumer inserts events: a table with the columns of `events` (001) that stores nothing
-- (engine Null), and a view that passes each inserted block on to `events`, whose own views then
-- fill `sessions_v2` and the rollups as before.
--
-- Why: ClickHouse parses a text value into a LowCardinality column one dictionary lookup at a time,
-- about four times the cost of parsing it into a String, and `events` has seventeen such columns:
-- on the embedded engine, parsing 10,000 events into them took ~110 ms of a ~280 ms insert (with
-- the views), against ~50 ms as String. Here every LowCardinality(String) of `events` is a String,
-- and the view's insert into `events` converts a whole block at once; the same inserts took ~215 ms.
--
-- Exactly-once loading is unchanged: the insert's `insert_deduplication_token` deduplicates `events`
-- and every view below it, as dependent views (`deduplicate_blocks_in_dependent_materialized_views`).
-- A block stored directly into `events` by an earlier release has a different block id there than
-- the same block stored through this table, so a batch planned before this migration is replayed
-- into `events` directly (services/consumer/src/batcher.ts, the plan's `into`).
--
-- A column added to `events` must be added here and to the view in the same migration:
-- libs/clickhouse/src/migrate.int.test.ts checks that the two tables agree.
CREATE TABLE IF NOT EXISTS events_ingest
(
    event_id UUID,
    site_id UUID,
    timestamp DateTime64(3, 'UTC'),
    name String,
    visitor_id UInt64,
    session_id UInt64,
    hostname String,
    pathname String,
    referrer String,
    referrer_domain String,
    channel String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    utm_content String,
    utm_term String,
    country String,
    region String,
    city String,
    device String,
    browser String,
    browser_version String,
    os String,
    os_version String,
    screen_width UInt32,
    props Map(String, String),
    revenue_amount Nullable(Decimal(18, 4)),
    revenue_currency String,
    engagement_time_ms UInt32,
    scroll_pct Float32,
    click_x Nullable(Float32),
    click_y Nullable(Float32),
    link_url String
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_ingest_mv_v1 TO events AS
SELECT
    event_id, site_id, timestamp, name, visitor_id, session_id, hostname, pathname, referrer,
    referrer_domain, channel, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country,
    region, city, device, browser, browser_version, os, os_version, screen_width, props,
    revenue_amount, revenue_currency, engagement_time_ms, scroll_pct, click_x, click_y, link_url
FROM events_ingest;
