-- Superseded by `sessions_v2` (004): partitioned by the month of the visit's start, visitor values merged with any.
--
-- Sessions: one logical row per visit, kept for ever (no TTL), so visit metrics (visits,
-- bounce_rate, visit_duration, views_per_visit, entries, exits) and every session-level
-- dimension (entry/exit page, first referrer/channel/utm) stay exact after raw events expire.
--
-- A streaming view never sees a whole session: each insert batch adds a partial row holding the
-- aggregate states of that batch's events of the session, and AggregatingMergeTree merges partial
-- rows with the same sorting key. Merges are eventual, so readers always aggregate again:
--
--   SELECT session_id, any(visitor_id) AS visitor_id, min(start) AS start, max(end) AS end,
--          sum(pageviews) AS pageviews, sum(events) AS events,
--          argMinMerge(entry_page) AS entry_page, argMinMerge(channel) AS channel, ...
--   FROM sessions WHERE site_id = {site:UUID} GROUP BY session_id
--   HAVING start >= {from} AND start < {to}
--
-- and filter on the merged values (HAVING), never on a partial row's `start` (WHERE): a partial
-- row's start is only an upper bound of the session's start. `FROM sessions FINAL` merges the
-- partial rows while reading instead, and applies a WHERE after merging; the stats layer reads
-- it that way (libs/stats-query/src/sql/relations.ts says when that is cheaper).
--
-- Definitions (Plausible's): a visit belongs to the period of its start; a bounce is a visit with
-- exactly one pageview (pageviews = 1); duration is `end - start`; entry page is the first
-- pageview's path and exit page the last one's (empty for a visit without pageviews).
--
-- Sorting key (site_id, session_id) and no partition key: the key must be the same for every
-- partial row of a session, and only the session id is. A day or month of the event (or of the
-- partial start) would split a session crossing midnight into rows that never merge, and a
-- partition never merges with another, so partitioning by time would do the same.
--
-- First/last values are argMin/argMax over (timestamp, event_id): the event id breaks ties between
-- events of the same millisecond, so merged values do not depend on batch boundaries or merge order.
CREATE TABLE IF NOT EXISTS sessions
(
    site_id UUID,
    session_id UInt64,
    -- A session belongs to one visitor; `any` because every partial row holds the same value.
    visitor_id SimpleAggregateFunction(any, UInt64),
    start SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    end SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64),
    entry_page AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    exit_page AggregateFunction(argMax, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    hostname AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    referrer AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    referrer_domain AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    channel AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    utm_source AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    utm_medium AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    utm_campaign AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    utm_content AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    utm_term AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    country AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    region AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    city AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    device AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    browser AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID)),
    os AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), UUID))
)
ENGINE = AggregatingMergeTree
ORDER BY (site_id, session_id)
-- The view's blocks carry tokens derived from the events insert token; the window makes a replayed
-- batch's partial rows be dropped instead of counted twice.
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS sessions_mv_v1 TO sessions AS
SELECT
    site_id,
    session_id,
    any(visitor_id) AS visitor_id,
    min(timestamp) AS start,
    max(timestamp) AS end,
    toUInt64(countIf(name = 'pageview')) AS pageviews,
    toUInt64(count()) AS events,
    argMinStateIf(pathname, (timestamp, event_id), name = 'pageview') AS entry_page,
    argMaxStateIf(pathname, (timestamp, event_id), name = 'pageview') AS exit_page,
    argMinState(toString(hostname), (timestamp, event_id)) AS hostname,
    argMinState(referrer, (timestamp, event_id)) AS referrer,
    argMinState(toString(referrer_domain), (timestamp, event_id)) AS referrer_domain,
    argMinState(toString(channel), (timestamp, event_id)) AS channel,
    argMinState(toString(utm_source), (timestamp, event_id)) AS utm_source,
    argMinState(toString(utm_medium), (timestamp, event_id)) AS utm_medium,
    argMinState(toString(utm_campaign), (timestamp, event_id)) AS utm_campaign,
    argMinState(toString(utm_content), (timestamp, event_id)) AS utm_content,
    argMinState(toString(utm_term), (timestamp, event_id)) AS utm_term,
    argMinState(toString(country), (timestamp, event_id)) AS country,
    argMinState(toString(region), (timestamp, event_id)) AS region,
    argMinState(toString(city), (timestamp, event_id)) AS city,
    argMinState(toString(device), (timestamp, event_id)) AS device,
    argMinState(toString(browser), (timestamp, event_id)) AS browser,
    argMinState(toString(os), (timestamp, event_id)) AS os
FROM events
GROUP BY site_id, session_id;
