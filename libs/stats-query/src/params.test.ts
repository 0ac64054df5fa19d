import { ApiError } from '@tidemark/http';
import { describe, expect, it } from 'vitest';
import { isPattern, parseFilter } from './filters';
import { BREAKDOWN_PROPERTIES, METRICS, PROPERTY_METRICS } from './metrics';
import { parseStatsQuery, type RawQuery, type StatsEndpoint } from './params';
import { COMPARE_MODES, comparisonPeriod, resolvePeriod, timeseriesBuckets } from './periods';

function rejection(endpoint: StatsEndpoint, query: RawQuery): ApiError {
  try {
    parseStatsQuery(endpoint, query);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error(`expected ${JSON.stringify(query)} to be refused`);
}

/** A 400 `invalid_request` whose message and details name every given parameter. */
function expectInvalid(endpoint: StatsEndpoint, query: RawQuery, ...params: string[]) {
  const err = rejection(endpoint, query);
  expect(err.code).toBe('invalid_request');
  expect(err.status).toBe(400);
  for (const param of params) {
    expect(err.message).toContain(param);
    expect(err.details).toHaveProperty([param]);
  }
}

describe('filters', () => {
  it('parses exact values, any-of lists and negation of the whole list', () => {
    expect(parseFilter('country', 'US')).toEqual({ key: 'country', negated: false, values: ['US'] });
    expect(parseFilter('country', '!US|ca')).toEqual({ key: 'country', negated: true, values: ['US', 'CA'] });
    expect(parseFilter('page', '/blog/*|/docs')).toEqual({
      key: 'page',
      negated: false,
      values: ['/blog/*', '/docs'],
    });
    expect(parseFilter('prop:plan', '!pro')).toEqual({
      key: 'prop',
      name: 'plan',
      negated: true,
      values: ['pro'],
    });
  });

  it('keeps * as a plain character outside page, entry_page, exit_page and hostname', () => {
    expect(isPattern('page', '/blog/*')).toBe(true);
    expect(isPattern('entry_page', '/*')).toBe(true);
    expect(isPattern('exit_page', '/*')).toBe(true);
    expect(isPattern('hostname', '*.example.com')).toBe(true);
    expect(isPattern('utm_source', 'news*')).toBe(false);
    expect(isPattern('prop', '*')).toBe(false);
    expect(parseFilter('utm_source', 'news*').values).toEqual(['news*']);
  });

  it.each([
    ['country', ''],
    ['country', '!'],
    ['country', 'US|'],
    ['country', 'USA'],
    ['page', '/a||/b'],
    ['prop:', 'x'],
    ['page', 'x'.repeat(2049)],
    ['device', Array.from({ length: 101 }, (_, i) => `d${i}`).join('|')],
  ])('refuses %s=%s naming the parameter', (param, value) => {
    expectInvalid('aggregate', { [param]: value }, param);
  });
});

describe('common parameters', () => {
  it('defaults to 30d, visitors, no filters', () => {
    expect(parseStatsQuery('aggregate', {})).toEqual({
      endpoint: 'aggregate',
      period: { preset: '30d' },
      filters: [],
      metrics: ['visitors'],
    });
  });

  it('takes site_id, a custom period and filters', () => {
    const q = parseStatsQuery('aggregate', {
      site_id: 'sk_abc123',
      period: 'custom',
      from: '2026-01-01',
      to: '2026-01-31',
      country: '!US|CA',
      'prop:plan': 'pro',
      metrics: 'visitors, pageviews,bounce_rate',
      compare: 'year_over_year',
    });
    expect(q).toEqual({
      endpoint: 'aggregate',
      siteId: 'sk_abc123',
      period: { preset: 'custom', from: '2026-01-01', to: '2026-01-31' },
      filters: [
        { key: 'country', negated: true, values: ['US', 'CA'] },
        { key: 'prop', name: 'plan', negated: false, values: ['pro'] },
      ],
      metrics: ['visitors', 'pageviews', 'bounce_rate'],
      compare: 'year_over_year',
    });
  });

  it('takes custom periods from 1970 to 2099, whose comparisons and last buckets stay computable', () => {
    const tz = 'Pacific/Kiritimati';
    const ctx = { timezone: tz, now: new Date('2026-03-06T08:00:00Z') };
    const whole = parseStatsQuery('aggregate', { period: 'custom', from: '1970-01-01', to: '2099-12-31' });
    const period = resolvePeriod(whole.period, ctx);
    for (const mode of COMPARE_MODES) {
      const before = comparisonPeriod(period, mode, tz);
      expect(before.from).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(before.startUtc.toISOString()).toMatch(/^\d{4}-/);
    }
    const last = parseStatsQuery('timeseries', { period: 'custom', from: '2099-12-25', to: '2099-12-31' });
    const days = timeseriesBuckets(resolvePeriod(last.period, ctx), 'day', tz);
    expect(days.map((b) => b.key)).toEqual([25, 26, 27, 28, 29, 30, 31].map((d) => `2099-12-${d}`));
  });

  it.each<[string, RawQuery, string[]]>([
    ['an unknown parameter', { colour: 'red' }, ['colour']],
    ['a parameter of another endpoint', { interval: 'day' }, ['interval']],
    ['a token in the query string', { token: 'tma_x' }, ['token']],
    ['an unknown period', { period: '90d' }, ['period']],
    ['from without custom', { period: '7d', from: '2026-01-01' }, ['from']],
    ['to without custom', { to: '2026-01-01' }, ['to']],
    ['custom without from', { period: 'custom', to: '2026-01-01' }, ['from']],
    ['custom without to', { period: 'custom', from: '2026-01-01' }, ['to']],
    ['from after to', { period: 'custom', from: '2026-02-01', to: '2026-01-01' }, ['from']],
    ['an impossible date', { period: 'custom', from: '2026-02-30', to: '2026-03-01' }, ['from']],
    ['a malformed date', { period: 'custom', from: '2026-1-1', to: '2026-03-01' }, ['from']],
    ['a date before 1970', { period: 'custom', from: '0001-01-01', to: '2026-03-01' }, ['from']],
    ['a date after 2099', { period: 'custom', from: '2026-01-01', to: '9999-12-31' }, ['to']],
    ['a repeated parameter', { period: ['7d', '30d'] }, ['period']],
    ['a malformed site_id', { site_id: "x' OR 1=1" }, ['site_id']],
    ['an unknown metric', { metrics: 'visitors,revenue' }, ['metrics']],
    ['a metric of breakdowns only', { metrics: 'entries' }, ['metrics']],
    ['an empty metric', { metrics: 'visitors,,pageviews' }, ['metrics']],
    ['a metric twice', { metrics: 'visitors,visitors' }, ['metrics']],
    ['an unknown compare', { compare: 'last_year' }, ['compare']],
    ['compare with all', { period: 'all', compare: 'previous_period' }, ['compare']],
    ['an unknown filter-like name', { utm_foo: 'x' }, ['utm_foo']],
  ])('refuses %s naming it', (_, query, params) => {
    expectInvalid('aggregate', query, ...params);
  });
});

describe('timeseries', () => {
  it('takes an interval and leaves the default to the period', () => {
    expect(parseStatsQuery('timeseries', { interval: 'week', metrics: 'visits' })).toMatchObject({
      interval: 'week',
      metrics: ['visits'],
    });
    expect(parseStatsQuery('timeseries', {})).not.toHaveProperty('interval');
  });

  it.each<[RawQuery, string]>([
    [{ interval: 'minute' }, 'interval'],
    [{ period: '24h', interval: 'day' }, 'interval'],
    [{ compare: 'previous_period' }, 'compare'],
    [{ metrics: 'conversion_rate' }, 'metrics'],
  ])('refuses %j naming %s', (query, param) => {
    expectInvalid('timeseries', query, param);
  });
});

describe('breakdown', () => {
  it('defaults the sort to visitors descending, limit 10, page 1', () => {
    expect(parseStatsQuery('breakdown', { property: 'page', metrics: 'pageviews,visitors' })).toMatchObject({
      property: 'page',
      metrics: ['pageviews', 'visitors'],
      sort: { metric: 'visitors', direction: 'desc' },
      limit: 10,
      pageNumber: 1,
    });
    expect(parseStatsQuery('breakdown', { property: 'exit_page', metrics: 'exits' }).sort).toEqual({
      metric: 'exits',
      direction: 'desc',
    });
  });

  it('sorts by any metric the property takes, requested or not', () => {
    const q = parseStatsQuery('breakdown', {
      property: 'page',
      sort: 'bounce_rate.asc',
      limit: '1000',
      page_number: '3',
    });
    expect(q).toMatchObject({
      metrics: ['visitors'],
      sort: { metric: 'bounce_rate', direction: 'asc' },
      limit: 1000,
      pageNumber: 3,
    });
  });

  it('accepts exactly the metrics API.md lists for each property', () => {
    for (const property of BREAKDOWN_PROPERTIES) {
      const scope = property === 'region' || property === 'city' ? { country: 'US' } : {};
      for (const metric of METRICS) {
        const query = { property, metrics: metric, ...scope };
        if (PROPERTY_METRICS[property].includes(metric)) {
          expect(parseStatsQuery('breakdown', query).metrics).toEqual([metric]);
        } else {
          const err = rejection('breakdown', query);
          expect(err.message).toContain(`\`${metric}\``);
          expect(err.message).toContain(`\`${property}\``);
          expect(Object.keys(err.details ?? {})).toEqual(['metrics', 'property']);
        }
      }
    }
    expect(PROPERTY_METRICS.entry_page).toEqual(['entries', 'visitors', 'bounce_rate']);
    expect(PROPERTY_METRICS.exit_page).toEqual(['exits', 'visitors']);
    expect(PROPERTY_METRICS.exit_link).toEqual(['clicks', 'visitors']);
    expect(PROPERTY_METRICS.goal).toEqual(['events', 'visitors', 'conversion_rate']);
  });

  it('scopes region and city to one country', () => {
    expect(
      parseStatsQuery('breakdown', { property: 'city', country: 'US', region: 'Illinois' }).property,
    ).toBe('city');
    expectInvalid('breakdown', { property: 'region' }, 'property', 'country');
    expectInvalid('breakdown', { property: 'city', country: 'US|CA' }, 'property', 'country');
    expectInvalid('breakdown', { property: 'region', country: '!US' }, 'property', 'country');
  });

  it.each<[RawQuery, string]>([
    [{}, 'property'],
    [{ property: 'colour' }, 'property'],
    [{ property: 'page', sort: 'visitors' }, 'sort'],
    [{ property: 'page', sort: 'visitors.up' }, 'sort'],
    [{ property: 'page', sort: 'events.desc' }, 'sort'],
    [{ property: 'page', limit: '0' }, 'limit'],
    [{ property: 'page', limit: '1001' }, 'limit'],
    [{ property: 'page', limit: '10.5' }, 'limit'],
    [{ property: 'page', limit: '1e3' }, 'limit'],
    [{ property: 'page', page_number: '0' }, 'page_number'],
    [{ property: 'page', page_number: 'two' }, 'page_number'],
    [{ property: 'page', compare: 'previous_period' }, 'compare'],
  ])('refuses %j naming %s', (query, param) => {
    expectInvalid('breakdown', query, param);
  });
});

describe('realtime, funnel, heatmap, export', () => {
  it('clamps realtime minutes to 1..60', () => {
    expect(parseStatsQuery('realtime', {}).minutes).toBe(5);
    expect(parseStatsQuery('realtime', { minutes: '0' }).minutes).toBe(1);
    expect(parseStatsQuery('realtime', { minutes: '-3' }).minutes).toBe(1);
    expect(parseStatsQuery('realtime', { minutes: '500' }).minutes).toBe(60);
    expect(parseStatsQuery('realtime', { minutes: '30' }).minutes).toBe(30);
    expectInvalid('realtime', { minutes: 'ten' }, 'minutes');
    expectInvalid('realtime', { minutes: '2.5' }, 'minutes');
  });

  it('needs a funnel_id', () => {
    expect(parseStatsQuery('funnel', { funnel_id: 'f_123' }).funnelId).toBe('f_123');
    expectInvalid('funnel', {}, 'funnel_id');
  });

  it('reads page as the heatmap page, not as a filter', () => {
    expect(parseStatsQuery('heatmap', { page: '/pricing', type: 'scroll', country: 'DE' })).toMatchObject({
      page: '/pricing',
      type: 'scroll',
      filters: [{ key: 'country', negated: false, values: ['DE'] }],
    });
    expect(parseStatsQuery('heatmap', { page: '/pricing' }).type).toBe('click');
    expectInvalid('heatmap', {}, 'page');
    expectInvalid('heatmap', { page: '/x', type: 'hover' }, 'type');
  });

  it('takes format and type for exports', () => {
    expect(parseStatsQuery('export', {})).toMatchObject({ format: 'csv', type: 'daily' });
    expect(parseStatsQuery('export', { format: 'ndjson', type: 'events' })).toMatchObject({
      format: 'ndjson',
      type: 'events',
    });
    expectInvalid('export', { format: 'xlsx' }, 'format');
    expectInvalid('export', { type: 'sessions' }, 'type');
  });
});
