import type { Query } from './api';
import { countryName } from './format';

/**
 * What a dashboard shows, read from and written to the URL query: the period, the chart interval,
 * the filters (under the API's own parameter names, so they pass through unchanged) and which tab
 * each panel shows. A link is the whole state.
 */

export const PERIODS = [
  { value: 'today', label: 'Today' },
  { value: 'yesterday', label: 'Yesterday' },
  { value: '24h', label: 'Last 24 hours' },
  { value: '7d', label: 'Last 7 days' },
  { value: '30d', label: 'Last 30 days' },
  { value: 'wtd', label: 'Week to date' },
  { value: 'mtd', label: 'Month to date' },
  { value: 'month', label: 'Last month' },
  { value: 'ytd', label: 'Year to date' },
  { value: '12m', label: 'Last 12 months' },
  { value: 'all', label: 'All time' },
  { value: 'custom', label: 'Custom range' },
] as const;
export type Period = (typeof PERIODS)[number]['value'];
const DEFAULT_PERIOD: Period = '30d';

export type Interval = 'hour' | 'day' | 'week' | 'month';

const FILTER_LABELS: Record<string, string> = {
  page: 'Page',
  entry_page: 'Entry page',
  exit_page: 'Exit page',
  hostname: 'Hostname',
  referrer: 'Source',
  channel: 'Channel',
  utm_source: 'UTM source',
  utm_medium: 'UTM medium',
  utm_campaign: 'UTM campaign',
  utm_content: 'UTM content',
  utm_term: 'UTM term',
  country: 'Country',
  region: 'Region',
  city: 'City',
  device: 'Device',
  browser: 'Browser',
  os: 'OS',
  event: 'Event',
  goal: 'Goal',
};

const isFilterKey = (key: string) => key in FILTER_LABELS || /^prop:.+/.test(key);

export interface DashboardState {
  period: Period;
  /** Only with `custom`: inclusive dates, YYYY-MM-DD. */
  from?: string;
  to?: string;
  interval?: Interval;
  filters: Array<[key: string, value: string]>;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function readState(query: URLSearchParams): DashboardState {
  const asked = query.get('period');
  let period: Period = PERIODS.some((p) => p.value === asked) ? (asked as Period) : DEFAULT_PERIOD;
  const from = query.get('from') ?? '';
  const to = query.get('to') ?? '';
  const custom = period === 'custom' && DATE.test(from) && DATE.test(to) && from <= to;
  if (period === 'custom' && !custom) period = DEFAULT_PERIOD;
  const interval = query.get('interval') as Interval | null;
  const state: DashboardState = {
    period,
    ...(custom ? { from, to } : {}),
    filters: [...query].filter(([key]) => isFilterKey(key)),
  };
  if (interval && intervalsFor(state).includes(interval)) state.interval = interval;
  return state;
}

/** The period parameters of every stats call. */
const periodQuery = (state: DashboardState): Query => ({
  period: state.period,
  from: state.from,
  to: state.to,
});

/** Period and filters: what every panel's stats call takes. */
export const statsQuery = (state: DashboardState): Query => ({
  ...periodQuery(state),
  ...Object.fromEntries(state.filters),
});

/** A string that changes whenever the stats to show change: the fetch key of the panels. */
export const stateKey = (state: DashboardState) => JSON.stringify(statsQuery(state));

const DAY_MS = 86_400_000;

/** Chart intervals that make sense for a period (the API takes only `hour` for 24h). */
export function intervalsFor(state: Pick<DashboardState, 'period' | 'from' | 'to'>): Interval[] {
  switch (state.period) {
    case '24h':
    case 'today':
    case 'yesterday':
      return ['hour'];
    case '7d':
    case 'wtd':
      return ['hour', 'day'];
    case '30d':
    case 'mtd':
    case 'month':
      return ['day', 'week'];
    case 'custom': {
      const days = (Date.parse(state.to!) - Date.parse(state.from!)) / DAY_MS + 1;
      if (days <= 1) return ['hour'];
      if (days <= 7) return ['hour', 'day'];
      if (days <= 31) return ['day', 'week'];
      return ['day', 'week', 'month'];
    }
    default:
      return ['day', 'week', 'month'];
  }
}

/** Filters on a country's regions and cities only mean something with that country. */
const NEEDS: Record<string, string> = { region: 'country', city: 'country' };

/** The query changes that remove a filter, and the filters that depended on it. */
export function removeFilter(key: string): Record<string, null> {
  const changes: Record<string, null> = { [key]: null };
  for (const [dependent, needs] of Object.entries(NEEDS)) if (needs === key) changes[dependent] = null;
  return changes;
}

/** `!a|b` → "is not a or b", as a chip shows it. */
export function describeFilter(key: string, raw: string): { label: string; op: string; value: string } {
  const negated = raw.startsWith('!');
  const values = (negated ? raw.slice(1) : raw).split('|');
  const shown = key === 'country' ? values.map(countryName) : values;
  return {
    label: FILTER_LABELS[key] ?? `Property ${key.slice('prop:'.length)}`,
    op: negated ? 'is not' : values.some((v) => v.includes('*')) ? 'matches' : 'is',
    value: shown.join(' or '),
  };
}

/** The one country a region or city breakdown is scoped to, if the filters name exactly one. */
export function singleCountry(state: DashboardState): string | null {
  const raw = state.filters.find(([key]) => key === 'country')?.[1];
  return raw && !raw.startsWith('!') && !raw.includes('|') ? raw : null;
}
