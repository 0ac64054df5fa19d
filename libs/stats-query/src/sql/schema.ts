import {
  DIMENSION_DAYS_TABLE,
  DIMENSIONS_SUMMARY_TABLE,
  SESSIONS_SUMMARY_TABLE,
  SESSIONS_TABLE,
  SITE_SUMMARY_TABLE,
  VISIT_ATTRIBUTES_SUMMARY_TABLE,
} from '@tidemark/clickhouse';
import { keyLevel } from '../filters';

/**
 * The only identifiers the builders put into SQL text: table names, and for each filter key or
 * breakdown property the column (or merge expression) that holds it. Anything from a request is
 * looked up here or bound as a parameter, never spliced.
 *
 * Tables are those of infra/clickhouse/migrations: `events` (raw, TTL), `sessions_v3` (one merged
 * row per visit, kept for ever) and the 15-minute rollups (kept for ever). `sql/engine.test.ts` runs
 * every builder against those migrations, so a name that drifts fails there.
 */
export const TABLES = {
  events: 'events',
  sessions: SESSIONS_TABLE,
  siteRollup: 'rollup_site_per_15m',
  dimensionRollup: 'rollup_dimensions_per_15m',
  dimensionDays: DIMENSION_DAYS_TABLE,
  locationRollup: 'rollup_locations_per_15m',
  siteSummary: SITE_SUMMARY_TABLE,
  sessionsSummary: SESSIONS_SUMMARY_TABLE,
  dimensionsSummary: DIMENSIONS_SUMMARY_TABLE,
  visitAttributesSummary: VISIT_ATTRIBUTES_SUMMARY_TABLE,
} as const;

/** The rollup grain: every local hour, day, week and month boundary in use is a multiple of it. */
export const ROLLUP_GRAIN_MS = 15 * 60_000;

/** Columns of `events` that filters and properties read directly. */
export const EVENT_COLUMNS = {
  page: 'pathname',
  hostname: 'hostname',
  event: 'name',
  exit_link: 'link_url',
  country: 'country',
  region: 'region',
  city: 'city',
  device: 'device',
  browser: 'browser',
  os: 'os',
} as const;

/** Properties of a visit: its first event's (last pageview's for `exit_page`). */
export const SESSION_ATTRIBUTES = [
  'entry_page',
  'exit_page',
  'referrer',
  'channel',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
  'country',
  'region',
  'city',
  'device',
  'browser',
  'os',
] as const;
export type SessionAttribute = (typeof SESSION_ATTRIBUTES)[number];

export function isSessionAttribute(name: string): name is SessionAttribute {
  return (SESSION_ATTRIBUTES as readonly string[]).includes(name);
}

/** `referrer` filters and breaks down by the referrer's domain. */
export const SESSION_COLUMN: Record<SessionAttribute, string> = {
  entry_page: 'entry_page',
  exit_page: 'exit_page',
  referrer: 'referrer_domain',
  channel: 'channel',
  utm_source: 'utm_source',
  utm_medium: 'utm_medium',
  utm_campaign: 'utm_campaign',
  utm_content: 'utm_content',
  utm_term: 'utm_term',
  country: 'country',
  region: 'region',
  city: 'city',
  device: 'device',
  browser: 'browser',
  os: 'os',
};

/**
 * `sessions_v3` keeps visitor-level attributes (functions of IP and user agent, the same on every
 * event of a visit: see `filters.ts`) as plain values merged with `any`, the others as the tuple
 * (timestamp, event_id, value) of their event merged with `min` (`max` for the exit page).
 * `sql/engine.test.ts` fails if this drifts from the migrations.
 */
export const isVisitorValue = (attr: SessionAttribute) => keyLevel(attr) === 'visitor';

/** The alias a session relation gives an attribute. */
export const sessionAlias = (attr: SessionAttribute) => `s_${attr}`;

/** The attribute of a `sessions` row read with FINAL, whose partial rows' tuples are merged already. */
export function mergedSessionAttribute(attr: SessionAttribute): string {
  const column = SESSION_COLUMN[attr];
  return isVisitorValue(attr) ? column : `${column}.3`;
}

/**
 * The same attribute computed from raw events of the visit, with the view's own definition: entry
 * and exit page from pageviews only, visitor values from any event, the rest from the first event,
 * ties broken by event id.
 */
export function rawSessionAttribute(attr: SessionAttribute): string {
  if (attr === 'entry_page') return "argMinIf(pathname, (timestamp, event_id), name = 'pageview')";
  if (attr === 'exit_page') return "argMaxIf(pathname, (timestamp, event_id), name = 'pageview')";
  const column = SESSION_COLUMN[attr];
  if (isVisitorValue(attr)) return `any(toString(${column}))`;
  return `argMin(toString(${column}), (timestamp, event_id))`;
}

/** Values of `rollup_dimensions_per_15m.dimension`. */
export const ROLLUP_DIMENSIONS = [
  'page',
  'hostname',
  'event',
  'exit_link',
  'device',
  'browser',
  'os',
] as const;
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];

/** Columns of `rollup_locations_per_15m`. */
export const LOCATION_COLUMNS = { country: 'country', region: 'region', city: 'city' } as const;
