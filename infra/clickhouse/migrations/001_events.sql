-- Raw events: one row per accepted event, the source every materialized view reads from.
--
-- Columns are named exactly like the fields of the Kafka message `enrichedEventV1`
-- (libs/events), so the consumer inserts each message as a row. There is no IP column: ingest
-- only ever passes on the salted visitor hash and what GeoIP derived from the address.
--
-- Sorting key: every stats query reads one site over a time range, so `site_id` then the UTC day
-- lets both prune granules (the key analysis maps a `timestamp` range onto `toDate(timestamp)`);
-- `name` next keeps a goal or event-name filter to the few granules of that name; `visitor_id`
-- groups a visitor's rows, which both compresses well and keeps uniq(visitor_id) cheap.
--
-- `pathname`, `referrer` and `link_url` are plain String: URLs can hold ids, and a dictionary of
-- unbounded size per part is slower than no dictionary. Bounded dimensions are LowCardinality.
--
-- Exactly-once loading: the consumer inserts each Kafka offset range with an
-- `insert_deduplication_token`; `non_replicated_deduplication_window` makes this table remember
-- the last 10000 tokens (far more than the batches in flight across all partitions), so a batch
-- replayed after a crash is dropped here and, with `deduplicate_blocks_in_dependent_materialized_views`,
-- in every view's target table too (002, 003).
CREATE TABLE IF NOT EXISTS events
(
    event_id UUID,
    site_id UUID,
    timestamp DateTime64(3, 'UTC') CODEC(Delta, ZSTD),
    name LowCardinality(String),
    visitor_id UInt64,
    session_id UInt64,
    hostname LowCardinality(String),
    pathname String,
    referrer String,
    referrer_domain LowCardinality(String),
    channel LowCardinality(String),
    utm_source LowCardinality(String),
    utm_medium LowCardinality(String),
    utm_campaign LowCardinality(String),
    utm_content LowCardinality(String),
    utm_term LowCardinality(String),
    country LowCardinality(String),
    region LowCardinality(String),
    city LowCardinality(String),
    device LowCardinality(String),
    browser LowCardinality(String),
    browser_version LowCardinality(String),
    os LowCardinality(String),
    os_version LowCardinality(String),
    screen_width UInt32,
    props Map(LowCardinality(String), String),
    -- Amount in `revenue_currency`; NULL when the event carries no revenue.
    revenue_amount Nullable(Decimal(18, 4)),
    revenue_currency LowCardinality(String),
    engagement_time_ms UInt32,
    scroll_pct Float32,
    -- Page-relative click position 0..1 for heatmaps; NULL for events that are not clicks.
    click_x Nullable(Float32),
    click_y Nullable(Float32),
    -- Outbound link target of an exit click; empty otherwise.
    link_url String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (site_id, toDate(timestamp), name, visitor_id, timestamp)
TTL toDateTime(timestamp) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;
