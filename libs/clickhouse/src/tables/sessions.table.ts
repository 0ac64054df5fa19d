/**
 * `sessions_v3` (infra/clickhouse/migrations/002_sessions.sql, partitioned by month in 004, first
 * and last values as tuples in 010): one logical row per visit.
 */
export const SESSIONS_TABLE = 'sessions_v3';

/**
 * Values of the visit's first event, kept as the tuple (timestamp, event_id, value) of that event
 * and merged with `min`: the value is `.3` of the smallest tuple.
 */
export const SESSION_FIRST_VALUES = [
  'hostname',
  'referrer',
  'referrer_domain',
  'channel',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
] as const;

export type SessionFirstValue = (typeof SESSION_FIRST_VALUES)[number];

/**
 * Values of the visitor: functions of the IP address and user agent, as the visitor id and so the
 * session are, hence the same on every event of a visit. Kept as plain values merged with `any`.
 */
export const SESSION_VISITOR_VALUES = ['country', 'region', 'city', 'device', 'browser', 'os'] as const;

export type SessionVisitorValue = (typeof SESSION_VISITOR_VALUES)[number];

export interface MergedSession extends Record<SessionFirstValue | SessionVisitorValue, string> {
  session_id: string;
  visitor_id: string;
  start: string;
  end: string;
  pageviews: string;
  events: string;
  entry_page: string;
  exit_page: string;
}

/**
 * A subquery giving one merged row per session of `{site_id:UUID}`. Partial rows of a session
 * (one per insert batch until background merges fold them) are always aggregated again here, so
 * callers filter on merged values (`WHERE start >= ...` around this subquery), never on partial ones.
 */
export function mergedSessionsSql(): string {
  const firstValues = [
    ...SESSION_FIRST_VALUES.map((c) => `min(${c}).3 AS ${c}`),
    ...SESSION_VISITOR_VALUES.map((c) => `any(${c}) AS ${c}`),
  ].join(',\n    ');
  return `SELECT
    session_id,
    any(visitor_id) AS visitor_id,
    min(start) AS start,
    max(end) AS end,
    sum(pageviews) AS pageviews,
    sum(events) AS events,
    min(entry_page).3 AS entry_page,
    max(exit_page).3 AS exit_page,
    ${firstValues}
  FROM ${SESSIONS_TABLE}
  WHERE site_id = {site_id:UUID}
  GROUP BY session_id`;
}
