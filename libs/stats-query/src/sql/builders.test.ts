import { ApiError } from '@tidemark/http';
import { describe, expect, it } from 'vitest';
import { FILTER_KEYS, parseFilter, type Filter } from '../filters';
import { PROPERTY_METRICS, SERIES_METRICS, type Metric, type Property } from '../metrics';
import { resolvePeriod, type ResolvedPeriod } from '../periods';
import { likePattern } from './conditions';
import type { GoalDefinition } from './goals';
import { planStatsQuery, rollupCoverage, type StatsShape, type StatsSqlContext } from './planner';
import type { ClickHouseQuery } from './query-params';
import {
  buildEventExport,
  buildFunnel,
  buildHeatmap,
  buildRealtime,
  decodeFunnel,
  decodeScroll,
} from './raw-endpoints';
import { fillTimeseries, metricChange } from './results';
import { buildAggregate, buildBreakdown, buildDailyExport, buildTimeseries } from './stats';

const SITE = '11111111-1111-4111-8111-111111111111';
const NOW = new Date('2026-04-05T00:00:00Z');

function ctx(over: Partial<StatsSqlContext> = {}, period?: ResolvedPeriod): StatsSqlContext {
  const timezone = over.timezone ?? 'Europe/Berlin';
  return {
    siteId: SITE,
    timezone,
    period: period ?? resolvePeriod({ preset: '7d' }, { timezone, now: NOW }),
    now: NOW,
    rawRetentionDays: 90,
    goals: [],
    ...over,
  };
}

const f = (param: string, value: string): Filter => parseFilter(param, value);

/** Every `{name:Type}` in the text has a value and every value is used: nothing else is dynamic. */
function expectWellBound(q: ClickHouseQuery) {
  const used = new Set([...q.query.matchAll(/\{(p\d+):[^{}]+\}/g)].map((m) => m[1]!));
  expect([...used].sort()).toEqual(Object.keys(q.query_params).sort());
  // No other brace and no string literal besides the builders' own constants.
  expect(q.query.replace(/\{p\d+:[^{}]+\}/g, '')).not.toMatch(/[{}]/);
  const literals = [...q.query.replace(/\{p\d+:[^{}]+\}/g, '').matchAll(/'([^']*)'/g)].map((m) => m[1]);
  for (const literal of literals) {
    expect([
      'pageview',
      'millisecond',
      'UTC',
      '',
      '/',
      'event',
      'page',
      'hostname',
      'device',
      'browser',
      'os',
      'exit_link',
    ]).toContain(literal);
  }
}

const NASTY = [
  "'; DROP TABLE events; --",
  "\\'; SELECT * FROM system.users --",
  '{p0:String}',
  '} OR 1=1 {',
  'it\'s \\"quoted\\" \\\\ back',
  '/* comment */ UNION ALL SELECT 1',
  'tab\there\nnewline',
  '%_\\%',
  "') OR ('1'='1",
];

describe('user values never reach the query text', () => {
  const goals: GoalDefinition[] = NASTY.map((v, i) => ({
    name: `goal ${v}`,
    ...(i % 2 ? { event_name: v } : { page_path: `/p${v}*` }),
  }));

  function allBuilt(filters: Filter[]): ClickHouseQuery[] {
    const c = ctx({ goals, timezone: 'Asia/Kathmandu' });
    const built: ClickHouseQuery[] = [];
    for (const source of ['raw', 'rollups'] as const) {
      const shapes: Array<[Property | undefined, readonly Metric[]]> = [
        [undefined, SERIES_METRICS],
        ...(Object.entries(PROPERTY_METRICS) as Array<[Property, readonly Metric[]]>),
      ];
      for (const [property, metrics] of shapes) {
        const shape: StatsShape = {
          metrics,
          filters,
          grouping: property ? { kind: 'property', property } : { kind: 'total' },
        };
        if (source === 'rollups' && !rollupCoverage(shape, c).ok) continue;
        const forced = { ...c, forceSource: source };
        if (!property) {
          built.push(buildAggregate({ metrics, filters }, forced).sql);
          built.push(buildTimeseries({ metrics, filters, interval: 'hour' }, forced).sql);
        } else {
          const b = buildBreakdown(
            {
              property,
              metrics,
              filters,
              sort: { metric: metrics[0]!, direction: 'asc' },
              limit: 7,
              pageNumber: 3,
            },
            forced,
          );
          built.push(b.sql, b.countSql);
        }
      }
    }
    built.push(buildRealtime({ minutes: 5, filters }, c));
    built.push(
      buildFunnel(
        {
          steps: [
            { name: 'a', type: 'pageview', url: NASTY[0]! },
            { name: 'b', type: 'goal', goal_name: goals[1]!.name },
          ],
          filters,
        },
        c,
      ).sql,
    );
    built.push(buildHeatmap({ page: NASTY[1]!, type: 'click', filters }, c).sql);
    built.push(buildHeatmap({ page: NASTY[2]!, type: 'scroll', filters }, c).sql);
    built.push(buildEventExport({ filters }, c).sql);
    return built;
  }

  it.each(NASTY)('as any filter value: %j', (value) => {
    const filters: Filter[] = [
      ...FILTER_KEYS.filter((k) => k !== 'goal' && k !== 'country').map((k) => f(k, `${value}|x*${value}`)),
      f('goal', goals.map((g) => g.name).join('|')),
      { key: 'prop', name: value, negated: true, values: [value] },
    ];
    const built = allBuilt(filters);
    expect(built.length).toBeGreaterThan(30);
    for (const q of built) {
      expect(q.query).not.toContain(value);
      expectWellBound(q);
      const values = JSON.stringify(q.query_params);
      expect(values).toContain(JSON.stringify(SITE));
    }
    // ...and each one of them travels as a parameter.
    const everything = built.map((q) => JSON.stringify(q.query_params)).join();
    expect(everything).toContain(JSON.stringify(value).slice(1, -1));
  });

  it('binds the site, the period and the paging', () => {
    const b = buildBreakdown(
      {
        property: 'page',
        metrics: ['visitors'],
        filters: [],
        sort: { metric: 'visitors', direction: 'desc' },
        limit: 25,
        pageNumber: 3,
      },
      ctx(),
    );
    expect(b.sql.query).toMatch(/LIMIT \{p\d+:UInt32\} OFFSET \{p\d+:UInt64\}$/);
    expect(Object.values(b.sql.query_params)).toEqual(
      expect.arrayContaining([SITE, 25, 50, '2026-03-29 22:00:00.000']),
    );
    expect(b.sql.query).toContain('site_id = {p0:UUID}');
  });

  it('refuses a site timezone that is not an IANA name', () => {
    expect(() =>
      buildTimeseries({ metrics: ['visitors'], filters: [] }, ctx({ timezone: "UTC', 'x" }, ctx().period)),
    ).toThrow(/unknown IANA timezone/);
  });

  it('escapes LIKE wildcards of the value before turning * into %', () => {
    expect(likePattern('/blog/*')).toBe('/blog/%');
    expect(likePattern('/50%_off*')).toBe('/50\\%\\_off%');
    expect(likePattern('C:\\*')).toBe('C:\\\\%');
  });
});

describe('planner', () => {
  const plan = (
    metrics: Metric[],
    filters: Filter[],
    grouping: StatsShape['grouping'] = { kind: 'total' },
    over = {},
  ) =>
    planStatsQuery(
      { metrics, filters, grouping },
      ctx({
        goals: [
          { name: 'Signup', event_name: 'signup' },
          { name: 'Blog', page_path: '/blog/*' },
        ],
        ...over,
      }),
    );

  it.each<[string, Metric[], Filter[], StatsShape['grouping'] | undefined]>([
    ['site totals', SERIES_METRICS as Metric[], [], undefined],
    ['an hourly series', ['visitors', 'visits'], [], { kind: 'bucket', interval: 'hour' }],
    ['one page filter on event metrics', ['visitors', 'pageviews'], [f('page', '/blog/*')], undefined],
    ['an event goal filter', ['visitors', 'events'], [f('goal', 'Signup')], undefined],
    [
      'a page breakdown within a page filter',
      ['visitors', 'pageviews'],
      [f('page', '!/blog/*')],
      { kind: 'property', property: 'page' },
    ],
    [
      'geo filters, all metrics',
      SERIES_METRICS as Metric[],
      [f('country', 'US'), f('region', 'Illinois')],
      undefined,
    ],
    [
      'a city breakdown',
      ['visitors', 'visits', 'bounce_rate'],
      [f('country', 'US')],
      { kind: 'property', property: 'city' },
    ],
    [
      'a device breakdown with visit metrics',
      ['visitors', 'bounce_rate'],
      [f('device', 'Mobile')],
      { kind: 'property', property: 'device' },
    ],
    ['a channel filter', SERIES_METRICS as Metric[], [f('channel', 'Direct'), f('country', 'DE')], undefined],
    [
      'an entry page breakdown',
      ['entries', 'visitors', 'bounce_rate'],
      [],
      { kind: 'property', property: 'entry_page' },
    ],
    [
      'a goal breakdown',
      ['events', 'visitors', 'conversion_rate'],
      [],
      { kind: 'property', property: 'goal' },
    ],
    [
      'an event breakdown under an event filter',
      ['events', 'conversion_rate'],
      [f('event', '!pageview')],
      { kind: 'property', property: 'event' },
    ],
  ])('answers %s from rollups', (_, metrics, filters, grouping) => {
    expect(plan(metrics, filters, grouping)).toEqual({ source: 'rollups', fromRollups: true });
  });

  it.each<[string, Metric[], Filter[], StatsShape['grouping'] | undefined, RegExp, boolean]>([
    ['custom properties', ['visitors'], [f('prop:plan', 'pro')], undefined, /prop:plan/, false],
    [
      'visit metrics under a page filter',
      ['visits'],
      [f('page', '/x')],
      undefined,
      /visit metrics under the page filter/,
      true,
    ],
    [
      'two dimensions',
      ['visitors'],
      [f('page', '/x'), f('device', 'Mobile')],
      undefined,
      /device and page/,
      false,
    ],
    [
      'a page breakdown with visit metrics',
      ['visits'],
      [],
      { kind: 'property', property: 'page' },
      /visit metrics by page/,
      true,
    ],
    [
      'event filters with a session filter',
      ['visitors'],
      [f('event', 'signup'), f('channel', 'Direct')],
      undefined,
      /event filter/,
      true,
    ],
    ['a goal filter mixing kinds', ['visitors'], [f('goal', 'Signup|Blog')], undefined, /mixing/, false],
    ['a negated page goal', ['visitors'], [f('goal', '!Blog')], undefined, /negated page goal/, false],
    [
      'a filtered goal breakdown',
      ['visitors'],
      [f('country', 'DE')],
      { kind: 'property', property: 'goal' },
      /goal breakdown with filters/,
      false,
    ],
  ])('needs raw events for %s', (_, metrics, filters, grouping, reason, visitsFromSessions) => {
    const p = plan(metrics, filters, grouping);
    expect(p.source).toBe('raw');
    // Visits matched with raw events come from `sessions_v3`, unless raw events are forced.
    expect(p.fromRollups).toBe(visitsFromSessions);
    expect(plan(metrics, filters, grouping, { forceSource: 'raw' }).fromRollups).toBe(false);
    expect(p.reason).toMatch(reason);
  });

  it('needs raw events when the period is not on 15-minute boundaries', () => {
    const odd = { ...ctx().period, startUtc: new Date('2026-03-29T22:05:00Z') };
    expect(
      planStatsQuery({ metrics: ['visitors'], filters: [], grouping: { kind: 'total' } }, ctx({}, odd))
        .source,
    ).toBe('raw');
  });

  it('answers 422 unsupported_query when raw events would be needed before retention', () => {
    const old = resolvePeriod({ preset: '12m' }, { timezone: 'UTC', now: NOW });
    const p = () => plan(['visitors'], [f('prop:plan', 'pro')], undefined, { period: old, timezone: 'UTC' });
    expect(p).toThrow(ApiError);
    expect(p).toThrow(/prop:plan filter needs raw events .*kept 90 days.*Choose a period from 2026-01-05 on/);
    // Rebuilding visits reads the day before the period too, so the first day it can answer is later.
    const visits = () => plan(['visits'], [f('page', '/x')], undefined, { period: old, timezone: 'UTC' });
    expect(visits).toThrow(/and the day before it.*Choose a period from 2026-01-06 on/);
    const edge = (from: string) =>
      plan(['visits'], [f('page', '/x')], undefined, {
        period: resolvePeriod({ preset: 'custom', from, to: '2026-04-04' }, { timezone: 'UTC', now: NOW }),
        timezone: 'UTC',
      });
    expect(() => edge('2026-01-05')).toThrow(ApiError);
    expect(edge('2026-01-06').source).toBe('raw');
    expect(
      plan(['visitors', 'bounce_rate'], [f('country', 'DE')], undefined, { period: old, timezone: 'UTC' })
        .source,
    ).toBe('rollups');
  });

  it('obeys forceSource, and refuses rollups for what they cannot answer', () => {
    expect(plan(['visitors'], [], undefined, { forceSource: 'raw' })).toMatchObject({
      source: 'raw',
      fromRollups: false,
    });
    expect(() => plan(['visits'], [f('page', '/x')], undefined, { forceSource: 'rollups' })).toThrow(
      /rollups cannot answer/,
    );
  });
});

describe('query shapes', () => {
  it('reads the sessions whose ids say they arrived from a day before the period to a day after it', () => {
    const c = ctx();
    const built = buildAggregate({ metrics: ['visits'], filters: [] }, c).sql;
    const range = /session_id BETWEEN \{(p\d+):UInt64\} AND \{(p\d+):UInt64\}/.exec(built.query);
    expect(range).not.toBeNull();
    const second = (ms: number) => BigInt(Math.floor(ms / 1000));
    expect(built.query_params[range![1]!]).toBe(
      (second(c.period.startUtc.getTime() - 86_400_000) << 32n).toString(),
    );
    expect(built.query_params[range![2]!]).toBe(
      (((second(c.period.endUtc.getTime() + 86_400_000) + 1n) << 32n) - 1n).toString(),
    );
  });

  it('reads site totals and visits from the rollup and sessions tables', () => {
    const q = buildAggregate({ metrics: ['visitors', 'bounce_rate'], filters: [] }, ctx()).sql.query;
    expect(q).toContain('FROM rollup_site_per_15m');
    expect(q).toContain('FROM sessions_v3 FINAL');
    expect(q).toContain('CROSS JOIN');
    expect(q).not.toContain('FROM events');
  });

  it('computes only the aggregates the requested metrics read', () => {
    // ClickHouse keeps an unused aggregate of a subquery: each one left in costs a full pass.
    const visits = buildAggregate({ metrics: ['visits', 'bounce_rate'], filters: [] }, ctx()).sql.query;
    expect(visits).toContain('countIf(s_pageviews = 1) AS v_bounces');
    expect(visits).not.toMatch(/uniq|v_duration_ms|v_events|FROM rollup/);
    const pageviews = buildBreakdown(
      {
        property: 'page',
        metrics: ['pageviews'],
        filters: [],
        sort: { metric: 'pageviews', direction: 'desc' },
        limit: 10,
        pageNumber: 1,
      },
      ctx(),
    ).sql.query;
    expect(pageviews).toContain('sum(pageviews) AS e_pageviews');
    expect(pageviews).not.toMatch(/uniq|e_events|FROM sessions/);
  });

  it('reads day totals where they pay: pages from a week of UTC days, browsers from 60, exit links never', () => {
    const summaries = { build: () => undefined };
    const days = (preset: '7d' | '30d' | '12m') =>
      resolvePeriod({ preset }, { timezone: 'Europe/Berlin', now: NOW });
    const breakdown = (property: Property, preset: '7d' | '30d' | '12m', withCatalog = true) =>
      buildBreakdown(
        {
          property,
          metrics: ['visitors', 'pageviews'],
          filters: [],
          sort: { metric: 'visitors', direction: 'desc' },
          limit: 10,
          pageNumber: 1,
        },
        ctx(withCatalog ? { summaries } : {}, days(preset)),
      ).sql;
    const readsDayTotals = (q: ClickHouseQuery) => q.query.includes('FROM rollup_dimensions_per_day');
    const page = breakdown('page', '30d');
    expect(readsDayTotals(page)).toBe(true);
    // Checked against the site rollup's pageviews, a day at a time; visitors added up over days.
    expect(page.query).toMatch(/sum\(pageviews\) AS events FROM rollup_site_per_15m/);
    expect(page.query).toContain('sum(visitors) AS e_visitors');
    expectWellBound(page);
    // Seven Berlin days hold six whole UTC days: under the week.
    expect(readsDayTotals(breakdown('page', '7d'))).toBe(false);
    expect(readsDayTotals(breakdown('browser', '30d'))).toBe(false);
    expect(readsDayTotals(breakdown('browser', '12m'))).toBe(true);
    expect(readsDayTotals(breakdown('exit_link', '12m'))).toBe(false);
    // No catalog (a forced source): the 15-minute rows alone, visitors still per UTC day.
    const plain = breakdown('page', '30d', false);
    expect(readsDayTotals(plain)).toBe(false);
    expect(plain.query).toMatch(/GROUP BY g, d/);
  });

  it('counts visits holding a matching event by joining per-visit matches to the visits', () => {
    const q = buildAggregate({ metrics: ['visits'], filters: [f('page', '/pricing')] }, ctx()).sql.query;
    expect(q).toMatch(
      /countIf\(name = 'pageview' AND pathname = \{p\d+:String\}\)|name = 'pageview' AND pathname = \{p\d+:String\}/,
    );
    expect(q).toContain('INNER JOIN');
    expect(q).toContain('USING session_id');
  });

  it('filters props through a bound key', () => {
    const q = buildAggregate({ metrics: ['visitors'], filters: [f('prop:plan', '!pro|team')] }, ctx()).sql;
    expect(q.query).toMatch(/NOT \(props\[\{p\d+:String\}\] IN \{p\d+:Array\(String\)\}\)/);
    expect(Object.values(q.query_params)).toEqual(expect.arrayContaining(['plan', ['pro', 'team']]));
  });

  it('groups timeseries by offset-aware keys with the DST change bound as a parameter', () => {
    const period = resolvePeriod(
      { preset: 'custom', from: '2026-03-28', to: '2026-03-30' },
      { timezone: 'Europe/Berlin', now: NOW },
    );
    const t = buildTimeseries({ metrics: ['visitors'], filters: [] }, ctx({}, period));
    expect(t.interval).toBe('day');
    expect(t.buckets).toHaveLength(3);
    expect(t.sql.query).toMatch(
      /multiIf\(bucket < \{p\d+:DateTime64\(3, 'UTC'\)\}, \{p\d+:Int32\}, \{p\d+:Int32\}\)/,
    );
    expect(Object.values(t.sql.query_params)).toEqual(
      expect.arrayContaining([3600, 7200, '2026-03-29 01:00:00.000']),
    );
  });

  it('builds the daily export as a day series of the main metrics', () => {
    const d = buildDailyExport({ filters: [] }, ctx());
    expect(d.interval).toBe('day');
    expect(d.buckets).toHaveLength(7);
    expect(d.sql.query).toContain('AS views_per_visit');
  });

  it('refuses a funnel outside 2..8 steps and an unknown goal step', () => {
    expect(() =>
      buildFunnel({ steps: [{ name: 'a', type: 'pageview', url: '/' }], filters: [] }, ctx()),
    ).toThrow(/2 to 8/);
    expect(() =>
      buildFunnel(
        {
          steps: [
            { name: 'a', type: 'pageview', url: '/' },
            { name: 'b', type: 'goal', goal_name: 'Nope' },
          ],
          filters: [],
        },
        ctx(),
      ),
    ).toThrow(/funnel_id/);
  });

  it('refuses an unknown goal in a goal filter, naming goal', () => {
    expect(() => buildAggregate({ metrics: ['visitors'], filters: [f('goal', 'Nope')] }, ctx())).toThrow(
      /`goal` has no goal named "Nope"/,
    );
  });
});

describe('decoding', () => {
  it('fills every bucket, zeros included', () => {
    const buckets = [
      { start: new Date('2026-03-29T00:00:00Z'), key: 'a' },
      { start: new Date('2026-03-29T01:00:00Z'), key: 'b' },
    ];
    expect(fillTimeseries(buckets, [{ bucket: 'b', visitors: '7' }], ['visitors'])).toEqual([
      { date: '2026-03-29T00:00:00.000Z', visitors: 0 },
      { date: '2026-03-29T01:00:00.000Z', visitors: 7 },
    ]);
  });

  it('turns funnel levels into reached-step counts', () => {
    const steps = [
      { name: 'a', type: 'pageview' as const, url: '/' },
      { name: 'b', type: 'pageview' as const, url: '/b' },
      { name: 'c', type: 'pageview' as const, url: '/c' },
    ];
    expect(
      decodeFunnel(
        [
          { level: 1, visitors: 5 },
          { level: 2, visitors: '3' },
          { level: 3, visitors: 2 },
        ],
        steps,
      ),
    ).toEqual({
      steps: [
        { name: 'a', visitors: 10, conversion_rate: 100, drop_off: 0 },
        { name: 'b', visitors: 5, conversion_rate: 50, drop_off: 5 },
        { name: 'c', visitors: 2, conversion_rate: 20, drop_off: 3 },
      ],
      conversion_rate: 20,
    });
    expect(decodeFunnel([], steps).conversion_rate).toBe(0);
  });

  it('lists every scroll depth', () => {
    expect(
      decodeScroll([
        { depth: 0, visitors: 4 },
        { depth: 50, visitors: 1 },
      ]).map((r) => r.visitors),
    ).toEqual([4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
  });

  it('computes comparison changes', () => {
    expect(metricChange('visitors', 150, 100)).toBe(50);
    expect(metricChange('visitors', 0, 0)).toBe(0);
    expect(metricChange('visitors', 3, 0)).toBeNull();
    expect(metricChange('bounce_rate', 41.5, 40)).toBe(1.5);
  });
});
