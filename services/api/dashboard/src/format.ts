import type { Metric } from './api-types';

const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const decimal = new Intl.NumberFormat('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** 9,999 in full; 12.3K above, where the last digits are noise on a dashboard. */
export const formatNumber = (n: number) => (Math.abs(n) < 10_000 ? integer.format(n) : compact.format(n));

function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Rates the API gives in percent, whose changes are in percentage points (not percent of percent). */
export const RATE_METRICS: ReadonlySet<Metric> = new Set(['bounce_rate', 'conversion_rate']);

export function formatMetric(metric: Metric, value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (RATE_METRICS.has(metric)) return `${value.toFixed(1)}%`;
  if (metric === 'visit_duration') return formatDuration(value);
  if (metric === 'views_per_visit') return decimal.format(value);
  return formatNumber(value);
}

export const METRIC_LABELS: Record<Metric, string> = {
  visitors: 'Visitors',
  visits: 'Visits',
  pageviews: 'Pageviews',
  views_per_visit: 'Views per visit',
  bounce_rate: 'Bounce rate',
  visit_duration: 'Visit duration',
  events: 'Events',
  entries: 'Entries',
  exits: 'Exits',
  conversion_rate: 'Conversion rate',
};

/** 🇫🇷 from FR: the two regional-indicator symbols that systems draw as the flag. */
export function flag(code: string): string {
  if (!/^[A-Z]{2}$/.test(code)) return '';
  return String.fromCodePoint(...[...code].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}

const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });

export function countryName(code: string): string {
  try {
    return regionNames.of(code) ?? code;
  } catch {
    return code;
  }
}

const LOCAL_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A `YYYY-MM-DD` (a date in the site's timezone) or an instant, shown as a day in that timezone. */
function formatDay(value: string, timeZone: string): string {
  const opts: Intl.DateTimeFormatOptions = { day: 'numeric', month: 'short', year: 'numeric' };
  if (LOCAL_DATE.test(value))
    return new Date(`${value}T00:00:00Z`).toLocaleDateString('en', { ...opts, timeZone: 'UTC' });
  return new Date(value).toLocaleDateString('en', { ...opts, timeZone });
}

export function formatRange(period: { from: string; to: string }, timeZone: string): string {
  const from = formatDay(period.from, timeZone);
  const to = formatDay(period.to, timeZone);
  return from === to ? from : `${from} – ${to}`;
}

/** A timeseries bucket start (UTC instant) in the site's timezone, as precise as its interval. */
export function formatBucket(iso: string, interval: string, timeZone: string): string {
  const date = new Date(iso);
  if (interval === 'hour')
    return date.toLocaleString('en', { timeZone, month: 'short', day: 'numeric', hour: 'numeric' });
  if (interval === 'month')
    return date.toLocaleDateString('en', { timeZone, month: 'long', year: 'numeric' });
  const day = date.toLocaleDateString('en', { timeZone, weekday: 'short', month: 'short', day: 'numeric' });
  return interval === 'week' ? `Week of ${day}` : day;
}

export const formatDateTime = (iso: string) =>
  new Date(iso).toLocaleString('en', { dateStyle: 'medium', timeStyle: 'short' });
