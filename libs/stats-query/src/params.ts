import { ApiError } from '@tidemark/http';
import { z } from 'zod';
import { compareDates, isValidLocalDate } from './calendar';
import { isFilterKey, parseFilter, PROP_PREFIX, type Filter } from './filters';
import {
  DEFAULT_METRIC,
  isMetric,
  isProperty,
  BREAKDOWN_PROPERTIES,
  PROPERTY_METRICS,
  SERIES_METRICS,
  type Metric,
  type Property,
} from './metrics';
import {
  COMPARE_MODES,
  DEFAULT_PERIOD,
  INTERVALS,
  PERIOD_PRESETS,
  type CompareMode,
  type Interval,
  type PeriodInput,
} from './periods';

export const STATS_ENDPOINTS = [
  'aggregate',
  'timeseries',
  'breakdown',
  'realtime',
  'funnel',
  'heatmap',
  'export',
] as const;
export type StatsEndpoint = (typeof STATS_ENDPOINTS)[number];

/** What every stats endpoint takes (API.md: `site_id`, the period and the filters). */
export interface CommonQuery {
  /** Id or `site_key`; absent when a site API key implies the site. */
  siteId?: string;
  period: PeriodInput;
  filters: Filter[];
}

export interface AggregateQuery extends CommonQuery {
  endpoint: 'aggregate';
  metrics: Metric[];
  compare?: CompareMode;
}

export interface TimeseriesQuery extends CommonQuery {
  endpoint: 'timeseries';
  metrics: Metric[];
  /** Absent: the default for the period (`resolveInterval`). */
  interval?: Interval;
}

export interface BreakdownSort {
  metric: Metric;
  direction: 'asc' | 'desc';
}

export interface BreakdownQuery extends CommonQuery {
  endpoint: 'breakdown';
  property: Property;
  metrics: Metric[];
  sort: BreakdownSort;
  limit: number;
  pageNumber: number;
}

export interface RealtimeQuery extends CommonQuery {
  endpoint: 'realtime';
  minutes: number;
}

export interface FunnelQuery extends CommonQuery {
  endpoint: 'funnel';
  funnelId: string;
}

export interface HeatmapQuery extends CommonQuery {
  endpoint: 'heatmap';
  /** Path of the page, `*` allowed as in the `page` filter. */
  page: string;
  type: 'click' | 'scroll';
}

export interface ExportQuery extends CommonQuery {
  endpoint: 'export';
  format: 'csv' | 'ndjson';
  type: 'events' | 'daily';
}

export interface StatsQueryMap {
  aggregate: AggregateQuery;
  timeseries: TimeseriesQuery;
  breakdown: BreakdownQuery;
  realtime: RealtimeQuery;
  funnel: FunnelQuery;
  heatmap: HeatmapQuery;
  export: ExportQuery;
}
export type StatsQuery = StatsQueryMap[StatsEndpoint];

export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 1000;
export const DEFAULT_REALTIME_MINUTES = 5;
const MAX_PAGE_NUMBER = 1_000_000;

const COMMON_PARAMS = ['site_id', 'period', 'from', 'to'];
const ENDPOINT_PARAMS: Record<StatsEndpoint, readonly string[]> = {
  aggregate: ['metrics', 'compare'],
  timeseries: ['metrics', 'interval'],
  breakdown: ['property', 'metrics', 'sort', 'limit', 'page_number'],
  realtime: ['minutes'],
  funnel: ['funnel_id'],
  // `page` here is the heatmap's page, not the filter of the same name.
  heatmap: ['page', 'type'],
  export: ['format', 'type'],
};

/** A query string as fastify (or URLSearchParams) hands it over: repeated names become arrays. */
export type RawQuery = Record<string, unknown>;

function invalid(param: string, message: string, more: Record<string, string[]> = {}): ApiError {
  return new ApiError('invalid_request', `\`${param}\` ${message}`, { [param]: [message], ...more });
}

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` });

const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: 'must be a whole number' })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `must be at least ${min}` })
        .max(max, { error: `must be at most ${max}` }),
    );

/**
 * The dates a custom period may take. No event lies outside them, and everything derived from the
 * period (the previous period, the year before, the day of margin either side) then stays within
 * years 1..9999, which the calendar and ClickHouse's DateTime64 both take.
 */
const FIRST_DATE = '1970-01-01';
const LAST_DATE = '2099-12-31';

const identifier = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be an id' });

const schemas = {
  site_id: identifier,
  funnel_id: identifier,
  period: oneOf(PERIOD_PRESETS),
  date: z
    .string()
    .refine(isValidLocalDate, { error: 'must be a date YYYY-MM-DD' })
    .refine((d) => d >= FIRST_DATE && d <= LAST_DATE, {
      error: `must be a date from ${FIRST_DATE} to ${LAST_DATE}`,
    }),
  compare: oneOf(COMPARE_MODES),
  interval: oneOf(INTERVALS),
  limit: wholeNumber(1, MAX_LIMIT),
  page_number: wholeNumber(1, MAX_PAGE_NUMBER),
  // Out of range is clamped rather than refused (API.md): only a non-number is an error.
  minutes: z
    .string()
    .regex(/^-?\d+$/, { error: 'must be a whole number of minutes' })
    .transform((s) => Math.min(60, Math.max(1, Number(s)))),
  heatmap_page: z
    .string()
    .min(1, { error: 'must be a page path such as /pricing' })
    .max(2048, { error: 'must be at most 2048 characters' }),
  heatmap_type: oneOf(['click', 'scroll']),
  format: oneOf(['csv', 'ndjson']),
  export_type: oneOf(['events', 'daily']),
};

function parseWith<T>(param: string, schema: z.ZodType<T>, value: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalid(param, result.error.issues[0]?.message ?? 'is invalid');
}

/** `visitors,pageviews` → the metrics, each known, allowed here and listed once. */
function parseMetrics(raw: string | undefined, allowed: readonly Metric[], property?: Property): Metric[] {
  if (raw === undefined) return [DEFAULT_METRIC];
  const names = raw.split(',').map((s) => s.trim());
  const metrics: Metric[] = [];
  for (const name of names) {
    if (name === '')
      throw invalid('metrics', 'has an empty item; write a comma-separated list such as visitors,pageviews');
    if (!isMetric(name))
      throw invalid('metrics', `has an unknown metric \`${name}\`; available: ${allowed.join(', ')}`);
    if (!allowed.includes(name)) {
      if (property) {
        const message = `metric \`${name}\` is not available for property \`${property}\`; it takes ${allowed.join(', ')}`;
        throw new ApiError('invalid_request', `\`metrics\`: ${message}`, {
          metrics: [message],
          property: [message],
        });
      }
      throw invalid('metrics', `metric \`${name}\` is not available here; available: ${allowed.join(', ')}`);
    }
    if (metrics.includes(name)) throw invalid('metrics', `lists \`${name}\` twice`);
    metrics.push(name);
  }
  return metrics;
}

function parseSort(raw: string | undefined, metrics: Metric[], property: Property): BreakdownSort {
  if (raw === undefined) {
    return { metric: metrics.includes('visitors') ? 'visitors' : metrics[0]!, direction: 'desc' };
  }
  const m = /^([a-z_]+)\.(asc|desc)$/.exec(raw);
  if (!m) throw invalid('sort', 'must be <metric>.asc or <metric>.desc, e.g. visitors.desc');
  const metric = m[1]!;
  const allowed = PROPERTY_METRICS[property];
  if (!isMetric(metric) || !allowed.includes(metric)) {
    throw invalid(
      'sort',
      `cannot sort by \`${metric}\` for property \`${property}\`; use one of ${allowed.join(', ')}`,
    );
  }
  return { metric, direction: m[2] as 'asc' | 'desc' };
}

/** The single country a region or city breakdown is scoped to (names repeat across countries). */
function requireOneCountry(property: Property, filters: Filter[]): void {
  const country = filters.find((f) => f.key === 'country');
  if (!country || country.negated || country.values.length !== 1) {
    const message = `property=${property} needs a filter on one country, e.g. country=US`;
    throw new ApiError('invalid_request', `\`property\`: ${message}`, {
      property: [message],
      country: [message],
    });
  }
}

function single(name: string, value: unknown): string {
  if (Array.isArray(value)) {
    if (value.length !== 1) throw invalid(name, 'is given more than once');
    return String(value[0]);
  }
  return String(value);
}

/**
 * Parses and validates the query string of a stats endpoint. Every problem is a 400
 * `invalid_request` naming the parameter: unknown parameters, a value of the wrong form,
 * `from`/`to` without `period=custom`, a metric the endpoint or property does not take.
 */
export function parseStatsQuery<E extends StatsEndpoint>(endpoint: E, raw: RawQuery): StatsQueryMap[E] {
  const own = new Set([...COMMON_PARAMS, ...ENDPOINT_PARAMS[endpoint]]);
  const entries = Object.entries(raw).filter(([, v]) => v !== undefined);
  for (const [name] of entries) {
    if (!own.has(name) && !isFilterKey(name) && !name.startsWith(PROP_PREFIX)) {
      throw invalid(name, `is not a parameter of the ${endpoint} endpoint`);
    }
  }
  const params = new Map<string, string>();
  const filters: Filter[] = [];
  for (const [name, value] of entries) {
    const text = single(name, value);
    if (own.has(name)) params.set(name, text);
    else filters.push(parseFilter(name, text));
  }
  const get = (name: string) => params.get(name);
  const opt = <T>(name: string, schema: z.ZodType<T>, param = name): T | undefined => {
    const value = get(param);
    return value === undefined ? undefined : parseWith(param, schema, value);
  };

  const preset = opt('period', schemas.period) ?? DEFAULT_PERIOD;
  const period: PeriodInput = { preset };
  for (const bound of ['from', 'to'] as const) {
    const value = opt(bound, schemas.date, bound);
    if (value === undefined) continue;
    if (preset !== 'custom') throw invalid(bound, `is only allowed with period=custom (period is ${preset})`);
    period[bound] = value;
  }
  if (preset === 'custom') {
    if (!period.from) throw invalid('from', 'is required with period=custom');
    if (!period.to) throw invalid('to', 'is required with period=custom');
    if (compareDates(period.from, period.to) > 0) throw invalid('from', 'must not be after `to`');
  }
  const siteId = opt('site_id', schemas.site_id);
  const common: CommonQuery = { ...(siteId ? { siteId } : {}), period, filters };

  const ep: StatsEndpoint = endpoint;
  const query = ((): StatsQuery => {
    switch (ep) {
      case 'aggregate': {
        const compare = opt('compare', schemas.compare);
        if (compare && preset === 'all') throw invalid('compare', 'cannot be used with period=all');
        return {
          endpoint: ep,
          ...common,
          metrics: parseMetrics(get('metrics'), SERIES_METRICS),
          ...(compare ? { compare } : {}),
        };
      }
      case 'timeseries': {
        const interval = opt('interval', schemas.interval);
        if (preset === '24h' && interval !== undefined && interval !== 'hour') {
          throw invalid('interval', 'must be hour with period=24h');
        }
        return {
          endpoint: ep,
          ...common,
          metrics: parseMetrics(get('metrics'), SERIES_METRICS),
          ...(interval ? { interval } : {}),
        };
      }
      case 'breakdown': {
        const propertyRaw = get('property');
        if (propertyRaw === undefined)
          throw invalid('property', `is required; one of ${BREAKDOWN_PROPERTIES.join(', ')}`);
        if (!isProperty(propertyRaw)) {
          throw invalid('property', `must be one of ${BREAKDOWN_PROPERTIES.join(', ')}`);
        }
        const property = propertyRaw;
        const metrics = parseMetrics(get('metrics'), PROPERTY_METRICS[property], property);
        if (property === 'region' || property === 'city') requireOneCountry(property, filters);
        return {
          endpoint: ep,
          ...common,
          property,
          metrics,
          sort: parseSort(get('sort'), metrics, property),
          limit: opt('limit', schemas.limit) ?? DEFAULT_LIMIT,
          pageNumber: opt('page_number', schemas.page_number) ?? 1,
        };
      }
      case 'realtime':
        return {
          endpoint: ep,
          ...common,
          minutes: opt('minutes', schemas.minutes) ?? DEFAULT_REALTIME_MINUTES,
        };
      case 'funnel': {
        const funnelId = opt('funnel_id', schemas.funnel_id);
        if (funnelId === undefined) throw invalid('funnel_id', 'is required');
        return { endpoint: ep, ...common, funnelId };
      }
      case 'heatmap': {
        const page = opt('page', schemas.heatmap_page);
        if (page === undefined) throw invalid('page', 'is required, e.g. page=/pricing');
        return { endpoint: ep, ...common, page, type: opt('type', schemas.heatmap_type) ?? 'click' };
      }
      case 'export':
        return {
          endpoint: ep,
          ...common,
          format: opt('format', schemas.format) ?? 'csv',
          type: opt('type', schemas.export_type) ?? 'daily',
        };
    }
  })();
  return query as StatsQueryMap[E];
}
