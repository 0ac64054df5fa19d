import { ApiError } from '@tidemark/http';
import { describe, expect, it } from 'vitest';
import { addMonths, addYears, isoWeekday, isValidLocalDate, mondayOf } from './calendar';
import {
  comparisonPeriod,
  defaultInterval,
  resolveInterval,
  resolvePeriod,
  timeseriesBuckets,
  type PeriodInput,
  type ResolvedPeriod,
} from './periods';
import {
  isValidTimeZone,
  localDateAt,
  offsetAt,
  offsetSchedule,
  resolveLocalTime,
  wallTimeAt,
} from './timezone';

const iso = (d: Date) => d.toISOString();
const hours = (p: ResolvedPeriod) => (p.endUtc.getTime() - p.startUtc.getTime()) / 3_600_000;

function period(timezone: string, input: PeriodInput | string, now = '2026-06-15T12:00:00Z', extra = {}) {
  const i: PeriodInput = typeof input === 'string' ? { preset: 'custom', from: input, to: input } : input;
  return resolvePeriod(i, { timezone, now: new Date(now), ...extra });
}

function expectApiError(fn: () => unknown, code: string, param: string) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(code);
    expect((err as ApiError).message).toContain(`\`${param}\``);
    expect((err as ApiError).details).toHaveProperty(param);
    return;
  }
  throw new Error('expected an ApiError');
}

describe('calendar', () => {
  it('validates dates and does month and year arithmetic on the civil calendar', () => {
    expect(isValidLocalDate('2028-02-29')).toBe(true);
    expect(isValidLocalDate('2026-02-29')).toBe(false);
    expect(isValidLocalDate('2026-13-01')).toBe(false);
    expect(isValidLocalDate('2026-1-01')).toBe(false);
    expect(addMonths('2026-01-31', 1)).toBe('2026-02-28');
    expect(addMonths('2026-01-15', -1)).toBe('2025-12-15');
    expect(addYears('2028-02-29', -1)).toBe('2027-02-28');
    expect(isoWeekday('2026-01-05')).toBe(1);
    expect(isoWeekday('2026-01-04')).toBe(7);
    expect(mondayOf('2026-01-01')).toBe('2025-12-29');
  });
});

describe('timezones', () => {
  it('knows IANA names and refuses anything else', () => {
    expect(isValidTimeZone('Asia/Kathmandu')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Etc/GMT+5')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone("UTC'); DROP TABLE events; --")).toBe(false);
  });

  it('reads offsets of half- and three-quarter-hour zones', () => {
    const t = Date.parse('2026-01-15T00:00:00Z');
    expect(offsetAt('Asia/Kolkata', t) / 60_000).toBe(330);
    expect(offsetAt('Asia/Kathmandu', t) / 60_000).toBe(345);
    expect(offsetAt('America/St_Johns', t) / 60_000).toBe(-210);
    expect(offsetAt('Pacific/Chatham', t) / 60_000).toBe(825);
    expect(offsetAt('Pacific/Kiritimati', t) / 60_000).toBe(840);
  });

  it('resolves a repeated local time to the earlier instant and a skipped one to the end of the gap', () => {
    expect(iso(new Date(resolveLocalTime('Europe/Berlin', '2026-10-25', 2, 30)))).toBe(
      '2026-10-25T00:30:00.000Z',
    );
    expect(iso(new Date(resolveLocalTime('Europe/Berlin', '2026-03-29', 2, 30)))).toBe(
      '2026-03-29T01:00:00.000Z',
    );
    expect(iso(new Date(resolveLocalTime('America/New_York', '2026-11-01', 1, 30)))).toBe(
      '2026-11-01T05:30:00.000Z',
    );
    // Havana springs forward at midnight: the day begins at 01:00 CDT.
    expect(iso(new Date(resolveLocalTime('America/Havana', '2026-03-08')))).toBe('2026-03-08T05:00:00.000Z');
    // Samoa skipped 30 December 2011 entirely: the first instant after is 31 December 00:00.
    expect(iso(new Date(resolveLocalTime('Pacific/Apia', '2011-12-30')))).toBe('2011-12-30T10:00:00.000Z');
    expect(localDateAt('Pacific/Apia', Date.parse('2011-12-30T10:00:00Z'))).toBe('2011-12-31');
  });

  it('lists the offset changes over a range to the second', () => {
    const s = offsetSchedule(
      'Europe/Berlin',
      Date.parse('2026-03-01T00:00:00Z'),
      Date.parse('2026-11-01T00:00:00Z'),
    );
    expect(s).toEqual({
      initial: 3600,
      changes: [
        { atMs: Date.parse('2026-03-29T01:00:00Z'), offset: 7200 },
        { atMs: Date.parse('2026-10-25T01:00:00Z'), offset: 3600 },
      ],
    });
    expect(offsetSchedule('Asia/Kolkata', 0, Date.parse('2026-12-31T00:00:00Z')).changes).toEqual([]);
  });
});

describe('presets', () => {
  const now = '2026-06-17T22:30:00Z'; // Wednesday 17 June in UTC, already Thursday 18 June in Kolkata.

  it.each([
    ['today', '2026-06-17', '2026-06-17'],
    ['yesterday', '2026-06-16', '2026-06-16'],
    ['7d', '2026-06-11', '2026-06-17'],
    ['30d', '2026-05-19', '2026-06-17'],
    ['12m', '2025-06-18', '2026-06-17'],
    ['wtd', '2026-06-15', '2026-06-17'],
    ['mtd', '2026-06-01', '2026-06-17'],
    ['ytd', '2026-01-01', '2026-06-17'],
    ['month', '2026-05-01', '2026-05-31'],
  ] as const)('%s in UTC is %s..%s', (preset, from, to) => {
    const p = period('UTC', { preset }, now);
    expect({ from: p.from, to: p.to }).toEqual({ from, to });
    expect(iso(p.startUtc)).toBe(`${from}T00:00:00.000Z`);
  });

  it('reads "today" in the site timezone', () => {
    const p = period('Asia/Kolkata', { preset: 'today' }, now);
    expect(p).toMatchObject({ from: '2026-06-18', to: '2026-06-18' });
    expect(iso(p.startUtc)).toBe('2026-06-17T18:30:00.000Z');
    expect(iso(p.endUtc)).toBe('2026-06-18T18:30:00.000Z');
  });

  it('makes 12m the last 365 days and 30d thirty days, today included', () => {
    const p = period('Europe/Berlin', { preset: '12m' }, now);
    expect(Math.round(hours(p) / 24)).toBe(365);
    expect(Math.round(hours(period('Europe/Berlin', { preset: '30d' }, now)) / 24)).toBe(30);
  });

  it('starts wtd on Monday, today when today is Monday', () => {
    expect(period('UTC', { preset: 'wtd' }, '2026-06-21T10:00:00Z').from).toBe('2026-06-15');
    expect(period('UTC', { preset: 'wtd' }, '2026-06-22T10:00:00Z')).toMatchObject({
      from: '2026-06-22',
      to: '2026-06-22',
    });
  });

  it('makes month in January the previous December', () => {
    const p = period('America/New_York', { preset: 'month' }, '2026-01-10T12:00:00Z');
    expect(p).toMatchObject({ from: '2025-12-01', to: '2025-12-31' });
    expect(iso(p.startUtc)).toBe('2025-12-01T05:00:00.000Z');
    expect(iso(p.endUtc)).toBe('2026-01-01T05:00:00.000Z');
  });

  it('takes 1 January in a +14:00 zone while it is still 31 December in UTC', () => {
    const p = period('Pacific/Kiritimati', { preset: 'ytd' }, '2025-12-31T12:00:00Z');
    expect(p).toMatchObject({ from: '2026-01-01', to: '2026-01-01' });
    expect(iso(p.startUtc)).toBe('2025-12-31T10:00:00.000Z');
  });

  it('starts all at the first data, else at the retention floor, else today', () => {
    expect(period('UTC', { preset: 'all' }, now, { earliest: new Date('2024-02-03T05:00:00Z') }).from).toBe(
      '2024-02-03',
    );
    expect(period('UTC', { preset: 'all' }, now, { rawRetentionDays: 90 }).from).toBe('2026-03-19');
    expect(period('UTC', { preset: 'all' }, now)).toMatchObject({ from: '2026-06-17', to: '2026-06-17' });
  });

  it('validates custom ranges, naming the parameter', () => {
    expect(period('UTC', { preset: 'custom', from: '2026-01-01', to: '2026-01-31' })).toMatchObject({
      from: '2026-01-01',
      to: '2026-01-31',
    });
    expectApiError(() => period('UTC', { preset: 'custom', to: '2026-01-31' }), 'invalid_request', 'from');
    expectApiError(() => period('UTC', { preset: 'custom', from: '2026-01-31' }), 'invalid_request', 'to');
    expectApiError(
      () => period('UTC', { preset: 'custom', from: '2026-02-01', to: '2026-01-31' }),
      'invalid_request',
      'from',
    );
    expectApiError(
      () => period('UTC', { preset: 'custom', from: '2026-02-30', to: '2026-03-01' }),
      'invalid_request',
      'from',
    );
  });

  it('refuses an unknown timezone', () => {
    expect(() => period('Mars/Olympus', { preset: 'today' })).toThrow(/unknown IANA timezone/);
  });
});

describe('local days across DST and odd offsets', () => {
  it.each([
    ['Europe/Berlin', '2026-03-29', '2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z', 23],
    ['Europe/Berlin', '2026-10-25', '2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z', 25],
    ['America/New_York', '2026-03-08', '2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z', 23],
    ['America/New_York', '2026-11-01', '2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z', 25],
    ['Asia/Kolkata', '2026-03-29', '2026-03-28T18:30:00.000Z', '2026-03-29T18:30:00.000Z', 24],
    ['Asia/Kathmandu', '2026-03-29', '2026-03-28T18:15:00.000Z', '2026-03-29T18:15:00.000Z', 24],
    ['America/St_Johns', '2026-01-10', '2026-01-10T03:30:00.000Z', '2026-01-11T03:30:00.000Z', 24],
    ['Pacific/Chatham', '2026-04-05', '2026-04-04T10:15:00.000Z', '2026-04-05T11:15:00.000Z', 25],
    ['Pacific/Chatham', '2026-09-27', '2026-09-26T11:15:00.000Z', '2026-09-27T10:15:00.000Z', 23],
    ['Pacific/Kiritimati', '2026-01-01', '2025-12-31T10:00:00.000Z', '2026-01-01T10:00:00.000Z', 24],
  ])('%s %s runs %s..%s (%i hours)', (tz, date, start, end, length) => {
    const p = period(tz, date);
    expect([iso(p.startUtc), iso(p.endUtc), hours(p)]).toEqual([start, end, length]);
  });

  it('has 23 and 25 hourly buckets on Berlin DST days, each at a local hour start', () => {
    const spring = timeseriesBuckets(period('Europe/Berlin', '2026-03-29'), 'hour', 'Europe/Berlin');
    expect(spring).toHaveLength(23);
    expect(spring.slice(1, 4).map((b) => iso(b.start))).toEqual([
      '2026-03-29T00:00:00.000Z', // 01:00 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST: 02:00 never happens
      '2026-03-29T02:00:00.000Z',
    ]);
    const fall = timeseriesBuckets(period('Europe/Berlin', '2026-10-25'), 'hour', 'Europe/Berlin');
    expect(fall).toHaveLength(25);
    // 02:00 happens twice, as two buckets with two keys.
    const twoAm = fall.filter((b) => wallTimeAt('Europe/Berlin', b.start.getTime()).hour === 2);
    expect(twoAm.map((b) => iso(b.start))).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z']);
    expect(new Set(fall.map((b) => b.key)).size).toBe(25);
  });

  it('has 23 and 25 hourly buckets on New York DST days', () => {
    expect(
      timeseriesBuckets(period('America/New_York', '2026-03-08'), 'hour', 'America/New_York'),
    ).toHaveLength(23);
    expect(
      timeseriesBuckets(period('America/New_York', '2026-11-01'), 'hour', 'America/New_York'),
    ).toHaveLength(25);
  });

  it('starts hourly buckets at :30 in Kolkata and :15 in Kathmandu', () => {
    const kolkata = timeseriesBuckets(period('Asia/Kolkata', '2026-03-29'), 'hour', 'Asia/Kolkata');
    expect(kolkata).toHaveLength(24);
    expect(kolkata.every((b) => b.start.getUTCMinutes() === 30)).toBe(true);
    const kathmandu = timeseriesBuckets(period('Asia/Kathmandu', '2026-03-29'), 'hour', 'Asia/Kathmandu');
    expect(kathmandu.every((b) => b.start.getUTCMinutes() === 15)).toBe(true);
  });

  it('splits the Chatham Islands fall-back day where its 45-minute-aligned clocks repeat', () => {
    const tz = 'Pacific/Chatham';
    const buckets = timeseriesBuckets(period(tz, '2026-04-05'), 'hour', tz);
    // Clocks go from 03:45 back to 02:45: hours are split at the change, never merged.
    expect(buckets.some((b) => iso(b.start) === '2026-04-04T14:00:00.000Z')).toBe(true);
    for (const b of buckets) {
      const wall = wallTimeAt(tz, b.start.getTime());
      const atTransition = offsetAt(tz, b.start.getTime() - 1000) !== offsetAt(tz, b.start.getTime());
      expect(wall.minute === 0 || atTransition).toBe(true);
    }
    expect(new Set(buckets.map((b) => b.key)).size).toBe(buckets.length);
  });

  it('puts day buckets at local midnight on both sides of a DST change', () => {
    const p = period('Europe/Berlin', { preset: 'custom', from: '2026-03-28', to: '2026-03-30' });
    expect(timeseriesBuckets(p, 'day', 'Europe/Berlin')).toEqual([
      { start: new Date('2026-03-27T23:00:00Z'), key: '2026-03-28' },
      { start: new Date('2026-03-28T23:00:00Z'), key: '2026-03-29' },
      { start: new Date('2026-03-29T22:00:00Z'), key: '2026-03-30' },
    ]);
  });

  it('starts weeks on Monday across a year boundary, the first clamped to the period', () => {
    const p = period('UTC', { preset: 'custom', from: '2025-12-24', to: '2026-01-14' });
    expect(timeseriesBuckets(p, 'week', 'UTC').map((b) => [iso(b.start).slice(0, 10), b.key])).toEqual([
      ['2025-12-24', '2025-12-22'],
      ['2025-12-29', '2025-12-29'],
      ['2026-01-05', '2026-01-05'],
      ['2026-01-12', '2026-01-12'],
    ]);
    expect(timeseriesBuckets(p, 'month', 'UTC').map((b) => [iso(b.start).slice(0, 10), b.key])).toEqual([
      ['2025-12-24', '2025-12-01'],
      ['2026-01-01', '2026-01-01'],
    ]);
  });
});

describe('24h', () => {
  it('is the 24 hourly buckets ending with the current one', () => {
    const p = period('Asia/Kathmandu', { preset: '24h' }, '2026-06-17T10:20:00Z');
    expect(iso(p.endUtc)).toBe('2026-06-17T11:15:00.000Z');
    expect(iso(p.startUtc)).toBe('2026-06-16T11:15:00.000Z');
    expect(timeseriesBuckets(p, 'hour', 'Asia/Kathmandu')).toHaveLength(24);
    expect(p).toMatchObject({ from: '2026-06-16', to: '2026-06-17' });
  });

  it('spans 24 real hours across a DST change', () => {
    const p = period('Europe/Berlin', { preset: '24h' }, '2026-03-29T10:20:00Z');
    expect([iso(p.startUtc), iso(p.endUtc)]).toEqual([
      '2026-03-28T11:00:00.000Z',
      '2026-03-29T11:00:00.000Z',
    ]);
    expect(timeseriesBuckets(p, 'hour', 'Europe/Berlin')).toHaveLength(24);
  });

  it('takes only the hourly interval', () => {
    const p = period('UTC', { preset: '24h' });
    expect(resolveInterval(p)).toBe('hour');
    expectApiError(() => resolveInterval(p, 'day'), 'invalid_request', 'interval');
  });
});

describe('intervals', () => {
  it('defaults to hour for one-day ranges and 24h, day otherwise', () => {
    expect(defaultInterval(period('UTC', { preset: 'today' }))).toBe('hour');
    expect(defaultInterval(period('UTC', { preset: 'yesterday' }))).toBe('hour');
    expect(defaultInterval(period('UTC', '2026-01-05'))).toBe('hour');
    expect(defaultInterval(period('UTC', { preset: '7d' }))).toBe('day');
    expect(resolveInterval(period('UTC', { preset: '30d' }), 'week')).toBe('week');
  });

  it('refuses a timeseries of more than 10000 buckets', () => {
    const p = period('UTC', { preset: 'all' }, '2026-06-17T00:00:00Z', {
      earliest: new Date('2020-01-01T00:00:00Z'),
    });
    expectApiError(() => resolveInterval(p, 'hour'), 'invalid_request', 'interval');
    expect(resolveInterval(p, 'day')).toBe('day');
  });
});

describe('comparisons', () => {
  it('compares with the same number of days just before', () => {
    const p = period('UTC', { preset: '7d' }, '2026-06-17T12:00:00Z');
    expect(comparisonPeriod(p, 'previous_period', 'UTC')).toMatchObject({
      from: '2026-06-04',
      to: '2026-06-10',
    });
    const march = period('UTC', { preset: 'custom', from: '2026-03-01', to: '2026-03-31' });
    expect(comparisonPeriod(march, 'previous_period', 'UTC')).toMatchObject({
      from: '2026-01-29',
      to: '2026-02-28',
    });
  });

  it('compares with the same dates a year earlier, 29 February becoming 28 February', () => {
    const p = period('Europe/Berlin', { preset: 'custom', from: '2028-02-27', to: '2028-02-29' });
    const c = comparisonPeriod(p, 'year_over_year', 'Europe/Berlin');
    expect(c).toMatchObject({ from: '2027-02-27', to: '2027-02-28' });
    expect(iso(c.startUtc)).toBe('2027-02-26T23:00:00.000Z');
  });

  it('compares 24h with the 24 hours before', () => {
    const p = period('UTC', { preset: '24h' }, '2026-06-17T10:20:00Z');
    const c = comparisonPeriod(p, 'previous_period', 'UTC');
    expect([iso(c.startUtc), iso(c.endUtc)]).toEqual([
      '2026-06-15T11:00:00.000Z',
      '2026-06-16T11:00:00.000Z',
    ]);
    const y = comparisonPeriod(p, 'year_over_year', 'UTC');
    expect([iso(y.startUtc), iso(y.endUtc)]).toEqual([
      '2025-06-16T11:00:00.000Z',
      '2025-06-17T11:00:00.000Z',
    ]);
  });
});
