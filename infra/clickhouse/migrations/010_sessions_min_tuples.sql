-- Sessions whose first and last values are plain tuples (`sessions_v3`), replacing `sessions_v2`
-- (004), whose definitions, key, partitioning and settings it keeps, but for those columns.
--
-- Why: `sessions_v2` kept entry_page, exit_page, hostname, referrer, referrer_domain, channel and
-- the UTMs as argMin/argMax states over (timestamp, event_id), and deserializing and merging those
-- states was most of the cost of reading visits. Here each is the tuple (timestamp, event_id,
-- value) of the event it comes from, merged with `min` (`max` for exit_page), and read as `.3` of
-- the merged tuple: the smallest tuple is the earliest event by the same (timestamp, event_id)
-- order argMin used, so the answers are the same. On 500k events (125k visits, 8 inserts): a 7-day
-- channel read 19.7 -> 8.9 ms, a filtered 7-day breakdown 37.2 -> 27.8 ms, building the view's
-- blocks 9.2 -> 4.6 s, OPTIMIZE FINAL 3.0 -> 1.2 s.
--
-- Entry and exit page come from pageviews only. A partial row without a pageview holds a sentinel
-- that never wins: a tuple after every event for `min`, before every event for `max`, both with
-- the value '', so a visit without any pageview reads '' as argMinMerge of an empty state did.
-- `minIf` would not do: over no rows it gives the type's default tuple (1970, nil UUID, ''),
-- which wins every `min`.
--
-- The copy keeps each partial row of `sessions_v2` as it is and turns each state into the tuple of
-- the event that won it, so visits that go on after the upgrade merge exactly as before, ties and
-- late events included. ClickHouse gives the winning (timestamp, event_id) of an argMin state no
-- other way than in the state itself, which `CAST(... AS String)` returns in its stored layout:
-- the value (Int32 size counting a trailing zero byte, the bytes, the zero; -1 and nothing for no
-- value), then the ordering tuple (a has-value byte, Int64 milliseconds, the UUID's 16 bytes). A
-- state with a value is therefore 30 bytes longer than the value and its tuple is its last 24
-- bytes; one without a value (no pageview in that partial row) is 5 bytes and gets the sentinel.
-- The copy stops with an error rather than store a value that differs from the state's own
-- (`finalizeAggregation`), or a first event's time that differs from the row's start.
--
-- Upgrading: as for 004, this copies `sessions_v2` into the new table, then moves the view, so
-- stop every consumer (SIGTERM: they commit what they stored) before upgrading and start the new
-- version, whose first process applies this before it consumes. The new view deduplicates a
-- replayed batch only against blocks it stored itself: a batch inserted before the upgrade and
-- replayed after it would be counted twice in `sessions_v3`, hence no old consumer may be left
-- with a batch it stored and did not commit. Re-running after an interruption starts the copy again
-- from an empty table; `sessions_v2` itself is dropped by 011, once this is recorded.
CREATE TABLE IF NOT EXISTS sessions_v3
(
    site_id UUID,
    session_id UInt64,
    -- A session belongs to one visitor; `any` because every partial row holds the same value.
    visitor_id SimpleAggregateFunction(any, UInt64),
    start SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    end SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64),
    entry_page SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    exit_page SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    hostname SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    referrer SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    referrer_domain SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    channel SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    utm_source SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    utm_medium SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    utm_campaign SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    utm_content SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    utm_term SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    country SimpleAggregateFunction(any, LowCardinality(String)),
    region SimpleAggregateFunction(any, LowCardinality(String)),
    city SimpleAggregateFunction(any, LowCardinality(String)),
    device SimpleAggregateFunction(any, LowCardinality(String)),
    browser SimpleAggregateFunction(any, LowCardinality(String)),
    os SimpleAggregateFunction(any, LowCardinality(String))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(toDateTime(bitShiftRight(session_id, 32), 'UTC'))
ORDER BY (site_id, session_id)
-- A month without new parts for an hour (late events of its last visits included) is merged into
-- one part, so FINAL reads it without merging.
SETTINGS non_replicated_deduplication_window = 10000,
         min_age_to_force_merge_seconds = 3600,
         min_age_to_force_merge_on_partition_only = 1;

TRUNCATE TABLE sessions_v3;

-- Without block deduplication: a re-run's blocks must not be dropped as repeats of the first try's.
-- A state without a value (the second is exit_page's) becomes the sentinel.
INSERT INTO sessions_v3
SELECT site_id, session_id, visitor_id, start, end, pageviews, events,
       tuples[1], tuples[2], tuples[3], tuples[4], tuples[5], tuples[6], tuples[7], tuples[8], tuples[9],
       tuples[10], tuples[11], country, region, city, device, browser, os
FROM
(
    SELECT *,
           [CAST(entry_page AS String), CAST(exit_page AS String), CAST(hostname AS String),
            CAST(referrer AS String), CAST(referrer_domain AS String), CAST(channel AS String),
            CAST(utm_source AS String), CAST(utm_medium AS String), CAST(utm_campaign AS String),
            CAST(utm_content AS String), CAST(utm_term AS String)] AS states,
           arrayMap((state, i) -> if(length(state) = 5,
                   if(i = 2,
                      (toDateTime64(0, 3, 'UTC'), toUUID('00000000-0000-0000-0000-000000000000'), ''),
                      (toDateTime64('2299-12-31 00:00:00', 3, 'UTC'), toUUID('ffffffff-ffff-ffff-ffff-ffffffffffff'), '')),
                   (fromUnixTimestamp64Milli(reinterpretAsInt64(substring(state, -24, 8)), 'UTC'),
                    reinterpretAsUUID(substring(state, -16)),
                    substring(state, 5, length(state) - 30))),
               states, arrayEnumerate(states)) AS tuples,
           [finalizeAggregation(entry_page), finalizeAggregation(exit_page), finalizeAggregation(hostname),
            finalizeAggregation(referrer), finalizeAggregation(referrer_domain), finalizeAggregation(channel),
            finalizeAggregation(utm_source), finalizeAggregation(utm_medium), finalizeAggregation(utm_campaign),
            finalizeAggregation(utm_content), finalizeAggregation(utm_term)] AS finalized
    FROM sessions_v2
)
WHERE throwIf(arrayMap(t -> t.3, tuples) != finalized OR tuples[3].1 != start,
              'sessions_v2: an argMin state is not laid out as this migration reads it') = 0
SETTINGS insert_deduplicate = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS sessions_v3_mv_v1 TO sessions_v3 AS
SELECT
    site_id,
    session_id,
    any(visitor_id) AS visitor_id,
    min(timestamp) AS start,
    max(timestamp) AS end,
    toUInt64(countIf(name = 'pageview')) AS pageviews,
    toUInt64(count()) AS events,
    min(if(name = 'pageview', (timestamp, event_id, pathname),
           (toDateTime64('2299-12-31 00:00:00', 3, 'UTC'), toUUID('ffffffff-ffff-ffff-ffff-ffffffffffff'), ''))) AS entry_page,
    max(if(name = 'pageview', (timestamp, event_id, pathname),
           (toDateTime64(0, 3, 'UTC'), toUUID('00000000-0000-0000-0000-000000000000'), ''))) AS exit_page,
    min((timestamp, event_id, toString(hostname))) AS hostname,
    min((timestamp, event_id, referrer)) AS referrer,
    min((timestamp, event_id, toString(referrer_domain))) AS referrer_domain,
    min((timestamp, event_id, toString(channel))) AS channel,
    min((timestamp, event_id, toString(utm_source))) AS utm_source,
    min((timestamp, event_id, toString(utm_medium))) AS utm_medium,
    min((timestamp, event_id, toString(utm_campaign))) AS utm_campaign,
    min((timestamp, event_id, toString(utm_content))) AS utm_content,
    min((timestamp, event_id, toString(utm_term))) AS utm_term,
    any(toString(country)) AS country,
    any(toString(region)) AS region,
    any(toString(city)) AS city,
    any(toString(device)) AS device,
    any(toString(browser)) AS browser,
    any(toString(os)) AS os
FROM events
GROUP BY site_id, session_id;

DROP VIEW IF EXISTS sessions_v2_mv_v1;

-- Closed-month builds of visits (006, 008) were stamped with the part names of `sessions_v2`,
-- which say nothing of the new table's parts (the same name can come back there over other rows):
-- forget them, then their rows, which no build names any more. The worker builds those months
-- again from `sessions_v3`; until then the stats read them from it.
DELETE FROM summary_builds WHERE kind IN ('sessions_month', 'visit_attributes_month');

TRUNCATE TABLE sessions_summary;

TRUNCATE TABLE sessions_attributes_summary;
