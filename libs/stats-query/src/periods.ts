import { ApiError } from '@tidemark/http';
import {
  addDays,
  addMonths,
  addYears,
  compareDates,
  daysBetween,
  DAY_MS,
  firstOfMonth,
  firstOfYear,
  isValidLocalDate,
  mondayOf,
  type LocalDate,
} from './calendar';
import {
  assertTimeZone,
  HOUR_MS,
  hourKey,
  hourStart,
  localDateAt,
  nextHourStart,
  resolveLocalTime,
  wallTimeAt,
} from './timezone';

export const PERIOD_PRESETS = [
  'today',
  'yesterday',
  '24h',
  '7d',
  '30d',
  '12m',
  'wtd',
  'mtd',
  'ytd',
  'month',
  'custom',
  'all',
] as const;
export type PeriodPreset = (typeof PERIOD_PRESETS)[number];
export const DEFAULT_PERIOD: PeriodPreset = '30d';

export const INTERVALS = ['hour', 'day', 'week', 'month'] as const;
export type Interval = (typeof INTERVALS)[number];

export const COMPARE_MODES = ['previous_period', 'year_over_year'] as const;
export type CompareMode = (typeof COMPARE_MODES)[number];

/** Beyond this many buckets a timeseries is refused rather than computed (hourly over years). */
export const MAX_BUCKETS = 10_000;

export interface PeriodInput {
  preset: PeriodPreset;
  /** Only with `custom`. */
  from?: LocalDate;
  to?: LocalDate;
}

export interface PeriodContext {
  /** The site's IANA timezone. */
  timezone: string;
  /** The clock, passed in so that answers are reproducible. */
  now: Date;
  /** The site's first recorded event, for `all`. */
  earliest?: Date;
  /** For `all` without `earliest`: start at the oldest day raw events still cover. */
  rawRetentionDays?: number;
}

/**
 * A period pinned to dates and instants. `from`/`to` are inclusive local dates; `startUtc` is the
 * instant the first local day (or hour, for `24h`) begins and `endUtc` the instant the period ends
 * (exclusive), so `[startUtc, endUtc)` is what queries read.
 */
export interface ResolvedPeriod {
  preset: PeriodPreset;
  from: LocalDate;
  to: LocalDate;
  startUtc: Date;
  endUtc: Date;
}

function invalid(param: string, message: string): ApiError {
  return new ApiError('invalid_request', `\`${param}\` ${message}`, { [param]: [message] });
}

function dayRange(preset: PeriodPreset, from: LocalDate, to: LocalDate, timezone: string): ResolvedPeriod {
  return {
    preset,
    from,
    to,
    startUtc: new Date(resolveLocalTime(timezone, from)),
    endUtc: new Date(resolveLocalTime(timezone, addDays(to, 1))),
  };
}

/** The 24 hourly buckets ending with the one now falls in. */
function last24Hours(timezone: string, now: number): ResolvedPeriod {
  const end = nextHourStart(timezone, hourStart(timezone, now));
  const start = hourStart(timezone, end - 24 * HOUR_MS);
  return {
    preset: '24h',
    from: localDateAt(timezone, start),
    to: localDateAt(timezone, end - 1),
    startUtc: new Date(start),
    endUtc: new Date(end),
  };
}

/**
 * Pins a preset to the site's calendar. `7d`/`30d` are today and the N−1 days before, `12m` today
 * and the 364 days before (365 days), `wtd` starts on Monday, `month` is the previous full
 * calendar month; today is always included, so a period ending today reads up to midnight.
 */
export function resolvePeriod(input: PeriodInput, ctx: PeriodContext): ResolvedPeriod {
  assertTimeZone(ctx.timezone);
  const tz = ctx.timezone;
  const now = ctx.now.getTime();
  const today = localDateAt(tz, now);
  const range = (from: LocalDate, to: LocalDate) => dayRange(input.preset, from, to, tz);
  switch (input.preset) {
    case 'today':
      return range(today, today);
    case 'yesterday':
      return range(addDays(today, -1), addDays(today, -1));
    case '24h':
      return last24Hours(tz, now);
    case '7d':
      return range(addDays(today, -6), today);
    case '30d':
      return range(addDays(today, -29), today);
    case '12m':
      return range(addDays(today, -364), today);
    case 'wtd':
      return range(mondayOf(today), today);
    case 'mtd':
      return range(firstOfMonth(today), today);
    case 'ytd':
      return range(firstOfYear(today), today);
    case 'month': {
      const first = addMonths(firstOfMonth(today), -1);
      return range(first, addDays(firstOfMonth(today), -1));
    }
    case 'custom': {
      const { from, to } = input;
      if (from === undefined) throw invalid('from', 'is required with period=custom');
      if (to === undefined) throw invalid('to', 'is required with period=custom');
      if (!isValidLocalDate(from)) throw invalid('from', 'must be a date YYYY-MM-DD');
      if (!isValidLocalDate(to)) throw invalid('to', 'must be a date YYYY-MM-DD');
      if (compareDates(from, to) > 0) throw invalid('from', 'must not be after `to`');
      return range(from, to);
    }
    case 'all': {
      let from = today;
      if (ctx.earliest) from = localDateAt(tz, ctx.earliest.getTime());
      else if (ctx.rawRetentionDays !== undefined) {
        from = localDateAt(tz, now - ctx.rawRetentionDays * DAY_MS);
      }
      return range(compareDates(from, today) > 0 ? today : from, today);
    }
  }
}

/** A local wall time one year earlier, resolved again (DST may differ a year apart). */
function sameWallTimeYearBefore(timezone: string, instant: number): number {
  const w = wallTimeAt(timezone, instant);
  const date = localDateAt(timezone, instant);
  return resolveLocalTime(timezone, addYears(date, -1), w.hour, w.minute);
}

/**
 * The period a comparison reads: `previous_period` is the same number of days (for `24h`, the
 * same 24 hours) immediately before; `year_over_year` the same dates a year earlier (29 February
 * maps to 28 February). The preset is kept so the answer can say what was compared.
 */
export function comparisonPeriod(
  period: ResolvedPeriod,
  mode: CompareMode,
  timezone: string,
): ResolvedPeriod {
  assertTimeZone(timezone);
  if (period.preset === '24h') {
    const start = period.startUtc.getTime();
    const end = period.endUtc.getTime();
    const [s, e] =
      mode === 'previous_period'
        ? [start - (end - start), start]
        : [sameWallTimeYearBefore(timezone, start), sameWallTimeYearBefore(timezone, end)];
    return {
      preset: period.preset,
      from: localDateAt(timezone, s),
      to: localDateAt(timezone, e - 1),
      startUtc: new Date(s),
      endUtc: new Date(e),
    };
  }
  if (mode === 'previous_period') {
    const days = daysBetween(period.from, period.to) + 1;
    return dayRange(period.preset, addDays(period.from, -days), addDays(period.from, -1), timezone);
  }
  return dayRange(period.preset, addYears(period.from, -1), addYears(period.to, -1), timezone);
}

/** `hour` for `24h` and one-day ranges, `day` otherwise. */
export function defaultInterval(period: ResolvedPeriod): Interval {
  return period.preset === '24h' || period.from === period.to ? 'hour' : 'day';
}

const APPROX_BUCKET_MS: Record<Interval, number> = {
  hour: HOUR_MS,
  day: DAY_MS,
  week: 7 * DAY_MS,
  month: 28 * DAY_MS,
};

/**
 * The interval a timeseries uses: the requested one or the default. `24h` takes only `hour`, and
 * a request for more than MAX_BUCKETS buckets is refused, both as 400 naming `interval`.
 */
export function resolveInterval(period: ResolvedPeriod, requested?: Interval): Interval {
  const interval = requested ?? defaultInterval(period);
  if (period.preset === '24h' && interval !== 'hour') {
    throw invalid('interval', 'must be hour with period=24h');
  }
  const span = period.endUtc.getTime() - period.startUtc.getTime();
  if (Math.floor(span / APPROX_BUCKET_MS[interval]) > MAX_BUCKETS) {
    throw invalid(
      'interval',
      `would give more than ${MAX_BUCKETS} buckets for this period; use a longer interval`,
    );
  }
  return interval;
}

/**
 * One timeseries bucket: `start` is the instant its local hour/day/week/month begins (clamped to
 * the period start for a first week or month that began earlier), `key` the value the SQL
 * bucketing expression yields for every instant inside it (see `sql/buckets.ts`).
 */
export interface Bucket {
  start: Date;
  key: string;
}

/**
 * Every bucket of the period, in order, none missing: a 23-hour DST day has 23 hourly buckets and
 * a 25-hour one 25; weeks start on Monday; a first week or month that began before the period
 * starts with the period (its `key` is still its Monday or first of month).
 */
export function timeseriesBuckets(period: ResolvedPeriod, interval: Interval, timezone: string): Bucket[] {
  assertTimeZone(timezone);
  const buckets: Bucket[] = [];
  const end = period.endUtc.getTime();
  if (interval === 'hour') {
    for (let t = period.startUtc.getTime(); t < end; t = nextHourStart(timezone, t)) {
      buckets.push({ start: new Date(t), key: hourKey(timezone, t) });
    }
    return buckets;
  }
  const keyOf = { day: (d: LocalDate) => d, week: mondayOf, month: firstOfMonth }[interval];
  const next = {
    day: (d: LocalDate) => addDays(d, 1),
    week: (d: LocalDate) => addDays(mondayOf(d), 7),
    month: (d: LocalDate) => addMonths(firstOfMonth(d), 1),
  }[interval];
  for (let d = period.from; compareDates(d, period.to) <= 0; d = next(d)) {
    buckets.push({ start: new Date(resolveLocalTime(timezone, d)), key: keyOf(d) });
  }
  return buckets;
}
