export const METRICS = [
  'visitors',
  'visits',
  'pageviews',
  'views_per_visit',
  'bounce_rate',
  'visit_duration',
  'events',
  'entries',
  'exits',
  'clicks',
  'conversion_rate',
] as const;
export type Metric = (typeof METRICS)[number];

/** Metrics of `aggregate` and `timeseries` (API.md); `visitors` when none is asked for. */
export const SERIES_METRICS: readonly Metric[] = [
  'visitors',
  'visits',
  'pageviews',
  'views_per_visit',
  'bounce_rate',
  'visit_duration',
  'events',
];
export const DEFAULT_METRIC: Metric = 'visitors';

/** The metrics of one row of `export?type=daily`. */
export const DAILY_EXPORT_METRICS: readonly Metric[] = SERIES_METRICS;

/**
 * Metrics of a visit, computed over visits (a visit belongs to the period it starts in); the
 * others are computed over events.
 */
export const VISIT_METRICS: ReadonlySet<Metric> = new Set([
  'visits',
  'views_per_visit',
  'bounce_rate',
  'visit_duration',
  'entries',
  'exits',
]);

export const BREAKDOWN_PROPERTIES = [
  'page',
  'entry_page',
  'exit_page',
  'exit_link',
  'channel',
  'referrer',
  'hostname',
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
  'event',
  'goal',
] as const;
export type Property = (typeof BREAKDOWN_PROPERTIES)[number];

const TRAFFIC: readonly Metric[] = ['visitors', 'pageviews', 'visits', 'bounce_rate', 'visit_duration'];
const CONVERSIONS: readonly Metric[] = ['events', 'visitors', 'conversion_rate'];

/** Which metrics each breakdown property takes, exactly as API.md lists them. */
export const PROPERTY_METRICS: Record<Property, readonly Metric[]> = {
  page: TRAFFIC,
  channel: TRAFFIC,
  referrer: TRAFFIC,
  hostname: TRAFFIC,
  utm_source: TRAFFIC,
  utm_medium: TRAFFIC,
  utm_campaign: TRAFFIC,
  utm_content: TRAFFIC,
  utm_term: TRAFFIC,
  country: TRAFFIC,
  region: TRAFFIC,
  city: TRAFFIC,
  device: TRAFFIC,
  browser: TRAFFIC,
  os: TRAFFIC,
  entry_page: ['entries', 'visitors', 'bounce_rate'],
  exit_page: ['exits', 'visitors'],
  exit_link: ['clicks', 'visitors'],
  event: CONVERSIONS,
  goal: CONVERSIONS,
};

/**
 * Properties whose value belongs to the visit rather than to each event: grouping by them makes
 * every metric a visit-level one (a visit has one channel, one entry page).
 */
export const SESSION_PROPERTIES: ReadonlySet<Property> = new Set([
  'entry_page',
  'exit_page',
  'channel',
  'referrer',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
]);

/** Properties an event carries that are constant over its visit (geo and device). */
export const VISITOR_PROPERTIES: ReadonlySet<Property> = new Set([
  'country',
  'region',
  'city',
  'device',
  'browser',
  'os',
]);

export function isMetric(name: string): name is Metric {
  return (METRICS as readonly string[]).includes(name);
}

export function isProperty(name: string): name is Property {
  return (BREAKDOWN_PROPERTIES as readonly string[]).includes(name);
}
