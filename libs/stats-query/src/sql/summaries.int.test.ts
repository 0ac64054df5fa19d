import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClickHouse,
  loadSummaryCatalog,
  migrateClickHouse,
  refreshClosedMonthSummaries,
  refreshDimensionDays,
  type ClickHouse,
  type SummaryCatalog,
  type SummaryKind,
} from '@tidemark/clickhouse';
import { sessionIdAt } from '@tidemark/events';
import { stackEnv, uniqueSuffix } from '../../../../test/support/stack';
import { SERIES_METRICS, type Metric } from '../metrics';
import { resolvePeriod, type ResolvedPeriod } from '../periods';
import { eventRow, generateTraffic } from '../testing/dataset';
import { parseFilter, type Filter } from '../filters';
import type { Property } from '../metrics';
import type { StatsSqlContext } from './planner';
import type { ClickHouseQuery } from './query-params';
import { buildAggregate, buildBreakdown } from './stats';

/*
 * Closed-month summaries on the real engine: an aggregate reads them for the months they cover and
 * answers exactly what it answers without them, and a month that changed after its build is read
 * from its sources until the next build.
 */

const SITE = '5a1c7e2e-3b0f-4c55-9d0e-6b2f0a9c1e11';
const OTHER = '6b2d8f3f-4c1a-4d66-8e1f-7c3a1b0d2f22';
const NOW = new Date('2026-04-05T00:00:00Z');
const METRICS: readonly Metric[] = [...SERIES_METRICS, 'views_per_visit'];
// Berlin: 2026-01-24T23:00Z .. 2026-04-03T22:00Z: January from the 25th, February and March whole.
const BERLIN = resolvePeriod(
  { preset: 'custom', from: '2026-01-25', to: '2026-04-03' },
  { timezone: 'Europe/Berlin', now: NOW },
);
// UTC, January to March whole: read as one January-to-March row.
const QUARTER = resolvePeriod(
  { preset: 'custom', from: '2026-01-01', to: '2026-03-31' },
  { timezone: 'UTC', now: NOW },
);

describe('closed-month summaries', () => {
  let ch: ClickHouse;

  const rows = async <T = Record<string, unknown>>(q: ClickHouseQuery | string) => {
    const { query, query_params } = typeof q === 'string' ? { query: q, query_params: {} } : q;
    return (await ch.query({ query, query_params, format: 'JSONEachRow' })).json<T>();
  };
  const catalog = () => loadSummaryCatalog((query) => rows(query));
  const context = (period: ResolvedPeriod, summaries?: SummaryCatalog, raw = false): StatsSqlContext => ({
    siteId: SITE,
    timezone: period === QUARTER ? 'UTC' : 'Europe/Berlin',
    period,
    now: NOW,
    rawRetentionDays: 3650,
    // An event goal and a page goal: the goal breakdown reads both dimensions of the rollups.
    goals: [
      { name: 'Signup', event_name: 'signup' },
      { name: 'Blog', page_path: '/blog*' },
    ],
    ...(raw ? { forceSource: 'raw' as const } : {}),
    ...(summaries ? { summaries } : {}),
  });
  const aggregate = async (
    ctx: StatsSqlContext,
    metrics: readonly Metric[] = METRICS,
    filters: Filter[] = [],
  ) => (await rows(buildAggregate({ metrics, filters }, ctx).sql))[0];
  /** The answer from raw events, from the rollups alone, and with the summaries: all three. */
  const answers = async (period: ResolvedPeriod, metrics: readonly Metric[] = METRICS) => ({
    raw: await aggregate(context(period, undefined, true), metrics),
    rollups: await aggregate(context(period), metrics),
    summaries: await aggregate(context(period, await catalog()), metrics),
  });
  const same = (x: unknown) => ({ raw: x, rollups: x, summaries: x });
  const breakdown = async (
    ctx: StatsSqlContext,
    property: Property,
    filters: Filter[] = [],
    metrics: readonly Metric[] = ['visitors', 'pageviews', 'events'],
  ) =>
    rows(
      buildBreakdown(
        {
          property,
          metrics,
          filters,
          sort: { metric: metrics[0]!, direction: 'desc' },
          limit: 1000,
          pageNumber: 1,
        },
        ctx,
      ).sql,
    );
  /** Breakdowns by properties of the dimension rollup, and totals under a filter on one. */
  const dimensionAnswers = async (period: ResolvedPeriod) => {
    const of = async (ctx: StatsSqlContext) => ({
      page: await breakdown(ctx, 'page'),
      browser: await breakdown(ctx, 'browser'),
      country: await breakdown(ctx, 'country'),
      blog: await breakdown(ctx, 'page', [parseFilter('page', '/blog/*')]),
      goal: await breakdown(ctx, 'goal'),
      filtered: await aggregate(ctx, ['visitors', 'pageviews'], [parseFilter('page', '/pricing')]),
    });
    return {
      raw: await of(context(period, undefined, true)),
      rollups: await of(context(period)),
      summaries: await of(context(period, await catalog())),
    };
  };
  const visitBreakdown = (ctx: StatsSqlContext, property: Property, metrics: readonly Metric[]) =>
    breakdown(ctx, property, [], metrics);
  /** Unfiltered breakdowns by visit attributes, which read visits (day rows of closed months). */
  const visitAnswers = async (period: ResolvedPeriod) => {
    const of = async (ctx: StatsSqlContext) => ({
      channel: await visitBreakdown(ctx, 'channel', [
        'visits',
        'visitors',
        'bounce_rate',
        'visit_duration',
        'pageviews',
        'views_per_visit',
      ]),
      entry: await visitBreakdown(ctx, 'entry_page', ['entries', 'visitors', 'bounce_rate']),
      country: await visitBreakdown(ctx, 'country', ['visitors', 'visits', 'bounce_rate', 'pageviews']),
      os: await visitBreakdown(ctx, 'os', ['visits', 'visit_duration']),
    });
    return {
      raw: await of(context(period, undefined, true)),
      rollups: await of(context(period)),
      summaries: await of(context(period, await catalog())),
    };
  };
  const insert = (values: Record<string, unknown>[]) =>
    ch.insert({ table: 'events', values, format: 'JSONEachRow' });
  const names = (built: Array<{ kind: string; month: string }>) =>
    built.map((b) => `${b.kind} ${b.month}`).sort();
  const buildOf = async (kind: SummaryKind, month: string) => (await catalog()).build(kind, month)!;

  beforeAll(async () => {
    // Raw retention far beyond NOW's past, so raw answers can be compared with summarized ones.
    const config = { url: stackEnv().CLICKHOUSE_URL, database: `t_${uniqueSuffix()}` };
    await migrateClickHouse(config, { rawRetentionDays: 3650 });
    ch = createClickHouse({ ...config, requestTimeoutMs: 120_000 });
    const traffic = [
      ...generateTraffic(SITE, new Date('2026-01-20T00:00:00Z'), new Date('2026-04-04T00:00:00Z'), 11, 120),
      ...generateTraffic(OTHER, new Date('2026-01-20T00:00:00Z'), new Date('2026-04-04T00:00:00Z'), 12, 30),
    ];
    // A visit whose session id holds February's last second and whose events are in March: it is
    // in February's partition of sessions_v3 but starts on a day of March.
    const straddling = sessionIdAt(new Date('2026-02-28T23:59:50Z'), 5);
    traffic.push(
      eventRow(SITE, {
        visitor_id: '515151',
        session_id: straddling,
        timestamp: new Date('2026-03-01T00:00:10Z'),
        pathname: '/edge',
        channel: 'Straddling',
      }),
    );
    // Several inserts, so a visit's partial rows sit in several parts of a month.
    for (let i = 0; i < 4; i++) await insert(traffic.filter((_, j) => j % 4 === i));
  }, 180_000);

  afterAll(async () => {
    await ch?.close();
  });

  it('answers exactly as the rollups and raw events do, for a year prefix and a rest of month', async () => {
    const before = await aggregate(context(BERLIN));
    expect(Number(before!.visits)).toBeGreaterThan(200);
    const quarter = await aggregate(context(QUARTER));

    // April is the current month at NOW: it is never summarized; nor is January's prefix (its month).
    const dimensions = await dimensionAnswers(BERLIN);
    expect(dimensions.rollups.page.length).toBeGreaterThan(3);
    const visitsBy = await visitAnswers(BERLIN);
    expect(visitsBy.raw).toEqual(visitsBy.rollups);
    expect(visitsBy.rollups.channel).toContainEqual(
      expect.objectContaining({ value: 'Straddling', visits: 1 }),
    );
    expect(visitsBy.rollups.country.length).toBeGreaterThan(2);
    expect(dimensions.rollups.goal.map((r) => r.value).sort()).toEqual(['Blog', 'Signup']);
    expect(names(await refreshClosedMonthSummaries(ch, { now: NOW }))).toEqual([
      'country_month 202601',
      'country_month 202602',
      'country_month 202603',
      'sessions_month 202601',
      'sessions_month 202602',
      'sessions_month 202603',
      'site_month 202601',
      'site_month 202602',
      'site_month 202603',
      'site_year_prefix 202602',
      'site_year_prefix 202603',
      'visit_attributes_month 202601',
      'visit_attributes_month 202602',
      'visit_attributes_month 202603',
    ]);
    // Day totals: every month with whole UTC days before NOW, April's first four days included.
    expect(await refreshDimensionDays(ch, NOW)).toEqual(['202601', '202602', '202603', '202604']);
    expect(await answers(BERLIN)).toEqual(same(before));
    expect(await visitAnswers(BERLIN)).toEqual(same(visitsBy.rollups));
    expect(await answers(QUARTER)).toEqual(same(quarter));
    expect(await dimensionAnswers(BERLIN)).toEqual(same(dimensions.rollups));
    expect((await answers(BERLIN, ['visitors'])).summaries).toEqual({ visitors: before!.visitors });
    expect((await answers(BERLIN, ['visits', 'bounce_rate'])).summaries).toEqual({
      visits: before!.visits,
      bounce_rate: before!.bounce_rate,
    });
    // Nothing changed: a second run builds nothing.
    expect(await refreshClosedMonthSummaries(ch, { now: NOW })).toEqual([]);
    expect(await refreshDimensionDays(ch, NOW)).toEqual([]);
  });

  it('reads a month that changed after its build from its sources, until the next build', async () => {
    const before = await aggregate(context(BERLIN));
    // A late visit of two pageviews in February, a summarized month.
    const start = new Date('2026-02-10T09:00:00Z');
    const session_id = sessionIdAt(start, 77);
    await insert([
      eventRow(SITE, { visitor_id: '424242', session_id, timestamp: start, pathname: '/late' }),
      eventRow(SITE, {
        visitor_id: '424242',
        session_id,
        timestamp: new Date(start.getTime() + 60_000),
        pathname: '/later',
      }),
    ]);
    const late = await aggregate(context(BERLIN));
    expect(Number(late!.visits)).toBe(Number(before!.visits) + 1);
    expect(Number(late!.pageviews)).toBe(Number(before!.pageviews) + 2);
    expect(await answers(BERLIN)).toEqual(same(late));
    const lateVisits = (await visitAnswers(BERLIN)).raw;
    expect(await visitAnswers(BERLIN)).toEqual(same(lateVisits));
    const lateDimensions = (await dimensionAnswers(BERLIN)).raw;
    expect(lateDimensions.page).toContainEqual(expect.objectContaining({ value: '/late', pageviews: 1 }));
    expect(await dimensionAnswers(BERLIN)).toEqual(same(lateDimensions));

    // February changed, and March's prefix holds February.
    const rebuilt = await refreshClosedMonthSummaries(ch, { now: NOW, supersededGraceMs: 0 });
    expect(names(rebuilt)).toEqual([
      'country_month 202602',
      'sessions_month 202602',
      'site_month 202602',
      'site_year_prefix 202602',
      'site_year_prefix 202603',
      'visit_attributes_month 202602',
    ]);
    expect(await refreshDimensionDays(ch, NOW)).toEqual(['202602']);
    expect(await dimensionAnswers(BERLIN)).toEqual(same(lateDimensions));
    expect(await answers(BERLIN)).toEqual(same(late));
    expect(await visitAnswers(BERLIN)).toEqual(same(lateVisits));
    // The next run drops the superseded builds (no grace here), rows and all.
    expect(await refreshClosedMonthSummaries(ch, { now: NOW, supersededGraceMs: 0 })).toEqual([]);
    const perKind = await rows<{ n: string }>(
      'SELECT toString(max(n)) AS n FROM (SELECT count() AS n FROM summary_builds GROUP BY kind, month)',
    );
    expect(perKind).toEqual([{ n: '1' }]);
    for (const table of [
      'sessions_summary',
      'rollup_site_summary',
      'rollup_dimensions_summary',
      'sessions_attributes_summary',
    ]) {
      const stale = await rows<{ n: string }>(
        `SELECT toString(count()) AS n FROM ${table} WHERE build_id NOT IN (SELECT build_id FROM summary_builds)`,
      );
      expect({ table, stale }).toEqual({ table, stale: [{ n: '0' }] });
    }
    expect(await answers(BERLIN)).toEqual(same(late));
    expect(await dimensionAnswers(BERLIN)).toEqual(same(lateDimensions));
  });

  it('reads the summary rows, and only those, that stand for the period', async () => {
    const berlin = await aggregate(context(BERLIN, await catalog()), ['visits', 'pageviews']);
    const quarter = await aggregate(context(QUARTER, await catalog()), ['pageviews']);
    // Rows added to valid builds show up in the answer where the plan reads them, and only there.
    const february = await buildOf('sessions_month', '202602');
    const visits = { bounces: 0, duration_ms: 0, pageviews: 0, events: 0 };
    await ch.insert({
      table: 'sessions_summary',
      format: 'JSONEachRow',
      values: [
        // February is a whole month of the period: its month row is read...
        {
          build_id: february,
          site_id: SITE,
          from_day: 1,
          bucket: '2026-02-01 00:00:00',
          visits: 1000,
          ...visits,
        },
        {
          build_id: february,
          site_id: SITE,
          from_day: 2,
          bucket: '2026-02-01 00:00:00',
          visits: 50,
          ...visits,
        },
        // ...not its 15-minute rows inside February,
        {
          build_id: february,
          site_id: SITE,
          from_day: 0,
          bucket: '2026-02-11 10:00:00',
          visits: 300,
          ...visits,
        },
        // but those of its visits that started in March are.
        {
          build_id: february,
          site_id: SITE,
          from_day: 0,
          bucket: '2026-03-01 00:00:00',
          visits: 4,
          ...visits,
        },
      ],
    });
    const site = (build: string, from_day: number, pageviews: number) => ({
      build_id: build,
      site_id: SITE,
      from_day,
      pageviews,
      events: pageviews,
    });
    const january = await buildOf('site_month', '202601');
    const march = await buildOf('site_month', '202603');
    const prefix = await buildOf('site_year_prefix', '202603');
    await ch.insert({
      table: 'rollup_site_summary',
      format: 'JSONEachRow',
      // The Berlin period reads January from day 25 and March whole; the UTC quarter the prefix.
      values: [
        site(january, 25, 5),
        site(january, 24, 100),
        site(march, 1, 7),
        site(march, 2, 100),
        site(prefix, 1, 9),
      ],
    });
    const after = await aggregate(context(BERLIN, await catalog()), ['visits', 'pageviews']);
    expect(Number(after!.visits)).toBe(Number(berlin!.visits) + 1004);
    expect(Number(after!.pageviews)).toBe(Number(berlin!.pageviews) + 12);
    const quarterAfter = await aggregate(context(QUARTER, await catalog()), ['pageviews']);
    expect(Number(quarterAfter!.pageviews)).toBe(Number(quarter!.pageviews) + 9);

    // Country day rows: the Berlin period's whole UTC days are January 25 on, to April 3 (April unbuilt).
    const country = (build: string, day: string, value: string) => ({
      build_id: build,
      site_id: SITE,
      dimension: 'country',
      day,
      value,
      pageviews: 1000,
      events: 1000,
    });
    await ch.insert({
      table: 'rollup_dimensions_summary',
      format: 'JSONEachRow',
      values: [
        country(await buildOf('country_month', '202602'), '2026-02-11', 'ZZ'),
        country(await buildOf('country_month', '202601'), '2026-01-24', 'YY'),
      ],
    });
    const countries = await breakdown(context(BERLIN, await catalog()), 'country');
    expect(countries).toContainEqual(expect.objectContaining({ value: 'ZZ', pageviews: 1000 }));
    expect(countries.map((r) => r.value)).not.toContain('YY');

    // Day totals of the period's whole UTC days are read; those of other days are not. Rows with
    // no events keep each day's totals in agreement with its 15-minute rows.
    const pageDay = (day: string, value: string) => ({
      site_id: SITE,
      dimension: 'page',
      day,
      value,
      visitors: 1000,
      pageviews: 0,
      events: 0,
    });
    await ch.insert({
      table: 'rollup_dimensions_per_day',
      format: 'JSONEachRow',
      values: [pageDay('2026-02-11', '/planted'), pageDay('2026-01-24', '/before')],
    });
    const pages = await breakdown(context(BERLIN, await catalog()), 'page');
    expect(pages).toContainEqual(expect.objectContaining({ value: '/planted', visitors: 1000 }));
    expect(pages.map((r) => r.value)).not.toContain('/before');
    expect((await breakdown(context(BERLIN), 'page')).map((r) => r.value)).not.toContain('/planted');

    // Visit day rows: a built partition's rows of the period's whole UTC days are read, whichever
    // month the day is in; rows of other days are not.
    const channel = (build: string, day: string, value: string) => ({
      build_id: build,
      site_id: SITE,
      attribute: 'channel',
      day,
      value,
      visits: 100,
      bounces: 0,
      duration_ms: 0,
      pageviews: 100,
      events: 100,
    });
    await ch.insert({
      table: 'sessions_attributes_summary',
      format: 'JSONEachRow',
      values: [
        channel(await buildOf('visit_attributes_month', '202601'), '2026-01-25', 'Planted'),
        channel(await buildOf('visit_attributes_month', '202601'), '2026-01-24', 'Before'),
        channel(await buildOf('visit_attributes_month', '202602'), '2026-03-01', 'Planted'),
        channel(await buildOf('visit_attributes_month', '202603'), '2026-04-03', 'After'),
      ],
    });
    const channels = await visitBreakdown(context(BERLIN, await catalog()), 'channel', ['visits']);
    expect(channels).toContainEqual(expect.objectContaining({ value: 'Planted', visits: 200 }));
    expect(channels.map((r) => r.value)).not.toContain('Before');
    expect(channels.map((r) => r.value)).not.toContain('After');
  });
});
