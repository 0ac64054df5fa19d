import { ApiError } from '@tidemark/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionIdAt } from '@tidemark/events';
import { parseFilter, type Filter } from '../filters';
import { PROPERTY_METRICS, SERIES_METRICS, VISIT_METRICS, type Metric, type Property } from '../metrics';
import { resolvePeriod, timeseriesBuckets, type Interval, type ResolvedPeriod } from '../periods';
import { ChdbHarness } from '../testing/chdb-harness';
import { eventRow, generateTraffic, type EventInput } from '../testing/dataset';
import { offsetSchedule } from '../timezone';
import { bucketKeyExpr, offsetExpr } from './buckets';
import type { GoalDefinition } from './goals';
import { rollupCoverage, type StatsShape, type StatsSqlContext } from './planner';
import { QueryParams } from './query-params';
import {
  buildEventExport,
  buildFunnel,
  buildHeatmap,
  buildRealtime,
  decodeFunnel,
  decodeScroll,
  type FunnelStep,
} from './raw-endpoints';
import { fillTimeseries, readMetrics } from './results';
import { buildAggregate, buildBreakdown, buildTimeseries } from './stats';

/*
 * The builders' SQL on the real engine (chdb) with the project's migrations: exact answers on a
 * small hand-made site, and raw events against rollups on generated traffic across DST weeks and
 * offset zones, which also proves the `sessions` and rollup views feed what the planner assumes.
 */

const TRAFFIC_SITE = '11111111-1111-4111-8111-111111111111';
const OTHER_SITE = '22222222-2222-4222-8222-222222222222';
const TINY_SITE = '33333333-3333-4333-8333-333333333333';
const NOW = new Date('2026-04-05T00:00:00Z');

const GOALS: GoalDefinition[] = [
  { name: 'Signup', event_name: 'signup' },
  { name: 'Blog', page_path: '/blog/*' },
  { name: 'Pricing', page_path: '/pricing' },
];

let h: ChdbHarness;

const f = (param: string, value: string): Filter => parseFilter(param, value);

/** The hand-made site (UTC): five visits whose every metric is worked out in the tests below. */
function tinySite(): EventInput[] {
  const at = (iso: string) => new Date(`2026-03-${iso}Z`);
  // Session ids carry their visit's start, as ingest makes them.
  const starts: Record<string, string> = {
    '11': '10T10:00:00',
    '21': '10T11:00:00',
    '22': '10T23:50:00',
    '31': '10T12:00:00',
    '41': '10T15:00:00',
  };
  const ev = (visitor: string, session: string, iso: string, fields: Record<string, unknown> = {}) =>
    eventRow(TINY_SITE, {
      visitor_id: visitor,
      session_id: sessionIdAt(at(starts[session]!), Number(session)),
      timestamp: at(iso),
      ...fields,
    });
  return [
    // v1: / from Google, /pricing, signup, /blog/x: 3 pageviews over 10 minutes.
    ev('1', '11', '10T10:00:00', { pathname: '/', referrer_domain: 'google.com', channel: 'Organic Search' }),
    ev('1', '11', '10T10:05:00', { pathname: '/pricing' }),
    ev('1', '11', '10T10:06:00', { pathname: '/pricing', name: 'signup', props: { plan: 'pro' } }),
    ev('1', '11', '10T10:10:00', { pathname: '/blog/x' }),
    // v2: a bounce, then a visit from Hacker News that runs past midnight.
    ev('2', '21', '10T11:00:00', { pathname: '/blog/y' }),
    ev('2', '22', '10T23:50:00', {
      pathname: '/pricing',
      referrer_domain: 'news.ycombinator.com',
      channel: 'Referral',
    }),
    ev('2', '22', '11T00:20:00', { pathname: '/' }),
    // v3: one pageview of /pricing, a heatmap click and a scroll to 75 %.
    ev('3', '31', '10T12:00:00', { pathname: '/pricing', device: 'Mobile' }),
    ev('3', '31', '10T12:01:00', {
      pathname: '/pricing',
      name: 'click',
      click_x: 0.5,
      click_y: 0.25,
      device: 'Mobile',
    }),
    ev('3', '31', '10T12:02:00', {
      pathname: '/pricing',
      name: 'engagement',
      scroll_pct: 75,
      device: 'Mobile',
    }),
    // v4: / then /blog/z a minute later.
    ev('4', '41', '10T15:00:00', { pathname: '/' }),
    ev('4', '41', '10T15:01:00', { pathname: '/blog/z' }),
  ];
}

beforeAll(async () => {
  h = await ChdbHarness.open();
  const traffic = generateTraffic(
    TRAFFIC_SITE,
    new Date('2026-03-05T00:00:00Z'),
    new Date('2026-04-02T00:00:00Z'),
    7,
    220,
  );
  const noise = generateTraffic(
    OTHER_SITE,
    new Date('2026-03-05T00:00:00Z'),
    new Date('2026-04-02T00:00:00Z'),
    8,
    40,
  );
  // Several inserts, so `sessions` holds partial rows that only merge at query time.
  const all = [...traffic, ...noise];
  for (let i = 0; i < 5; i++) await h.insertEvents(all.filter((_, j) => j % 5 === i));
  const tiny = tinySite();
  await h.insertEvents(tiny.slice(0, 5));
  await h.insertEvents(tiny.slice(5));
}, 180_000);

afterAll(() => h?.close());

function context(
  site: string,
  timezone: string,
  period: ResolvedPeriod,
  forceSource?: 'raw' | 'rollups',
): StatsSqlContext {
  return {
    siteId: site,
    timezone,
    period,
    now: NOW,
    rawRetentionDays: 90,
    goals: GOALS,
    ...(forceSource ? { forceSource } : {}),
  };
}

function custom(timezone: string, from: string, to: string): ResolvedPeriod {
  return resolvePeriod({ preset: 'custom', from, to }, { timezone, now: NOW });
}

describe('timeseries bucket keys: SQL and periods agree across zone transitions', () => {
  const cases: Array<[string, string, string]> = [
    ['Europe/Berlin', '2026-03-28', '2026-03-30'],
    ['Europe/Berlin', '2026-10-24', '2026-10-26'],
    ['America/New_York', '2026-03-07', '2026-03-09'],
    ['America/New_York', '2026-10-31', '2026-11-02'],
    ['Asia/Kolkata', '2026-01-30', '2026-02-02'],
    ['Asia/Kathmandu', '2026-12-30', '2027-01-02'],
    ['Pacific/Chatham', '2026-04-04', '2026-04-06'],
    ['Pacific/Chatham', '2026-09-26', '2026-09-28'],
    ['Australia/Lord_Howe', '2026-04-04', '2026-04-06'],
    ['Australia/Lord_Howe', '2026-10-03', '2026-10-05'],
    ['America/St_Johns', '2026-03-07', '2026-03-09'],
    ['America/Santiago', '2026-09-05', '2026-09-07'],
    ['America/Havana', '2026-03-07', '2026-03-09'],
    ['Pacific/Kiritimati', '2026-12-30', '2027-01-02'],
  ];
  it.each(cases)('%s %s..%s, every 15 minutes, hour/day/week/month', async (tz, from, to) => {
    const period = custom(tz, from, to);
    const instants: string[] = [];
    for (let t = period.startUtc.getTime(); t < period.endUtc.getTime(); t += 15 * 60_000) {
      instants.push(new Date(t).toISOString().replace('T', ' ').replace('Z', ''));
    }
    for (const interval of ['hour', 'day', 'week', 'month'] as Interval[]) {
      const buckets = timeseriesBuckets(period, interval, tz);
      const p = new QueryParams();
      const offset = offsetExpr(p, offsetSchedule(tz, period.startUtc.getTime(), period.endUtc.getTime()));
      const sql = p.query(
        `SELECT s, ${bucketKeyExpr(interval, 't', offset)} AS key
         FROM (SELECT arrayJoin(${p.bind(instants, 'Array(String)')}) AS s, toDateTime64(s, 3, 'UTC') AS t)`,
      );
      const rows = await h.rows<{ s: string; key: string }>(sql);
      expect(rows).toHaveLength(instants.length);
      for (const row of rows) {
        const t = Date.parse(`${row.s.replace(' ', 'T')}Z`);
        const bucket = buckets.filter((b) => b.start.getTime() <= t).at(-1)!;
        expect({ at: row.s, interval, key: row.key }).toEqual({ at: row.s, interval, key: bucket.key });
      }
    }
  });
});

describe('exact answers on a hand-made site', () => {
  const day = () => custom('UTC', '2026-03-10', '2026-03-10');
  const aggregate = async (
    filters: Filter[],
    metrics: readonly Metric[] = SERIES_METRICS,
    source?: 'raw' | 'rollups',
  ) => {
    const built = buildAggregate({ metrics, filters }, context(TINY_SITE, 'UTC', day(), source));
    return readMetrics((await h.rows(built.sql))[0], metrics);
  };

  it('computes every aggregate metric, from rollups and from raw events alike', async () => {
    const expected = {
      visitors: 4,
      visits: 5,
      pageviews: 8,
      events: 11,
      bounce_rate: 40,
      visit_duration: 516,
      views_per_visit: 1.8,
    };
    expect(await aggregate([], SERIES_METRICS, 'rollups')).toEqual(expected);
    expect(await aggregate([], SERIES_METRICS, 'raw')).toEqual(expected);
  });

  it('counts matching events and the visits that hold one under an event-level filter', async () => {
    expect(await aggregate([f('page', '/pricing')])).toEqual({
      visitors: 3,
      pageviews: 3,
      events: 3,
      visits: 3,
      bounce_rate: 33.3,
      visit_duration: 840,
      views_per_visit: 2,
    });
    expect(await aggregate([f('goal', 'Signup')], ['visitors', 'events', 'visits'])).toEqual({
      visitors: 1,
      events: 1,
      visits: 1,
    });
    expect(await aggregate([f('prop:plan', 'pro')], ['visitors', 'events'])).toEqual({
      visitors: 1,
      events: 1,
    });
  });

  it('computes every metric over the selected visits under a session-level filter', async () => {
    expect(await aggregate([f('channel', 'Referral')])).toEqual({
      visitors: 1,
      visits: 1,
      // The visit's pageviews, the one after midnight included: it belongs to the visit's day.
      pageviews: 2,
      events: 2,
      bounce_rate: 0,
      visit_duration: 1800,
      views_per_visit: 2,
    });
  });

  it('takes a wildcard and an exact value of a visit’s page together, from every source', async () => {
    // An OR of LIKEs on a visit attribute: ClickHouse rewrites such ORs, and failed on aggregates.
    for (const source of ['rollups', 'raw'] as const) {
      expect(await aggregate([f('entry_page', '/blog/*|/')], ['visits', 'visitors'], source)).toEqual({
        visits: 3,
        visitors: 3,
      });
      expect(await aggregate([f('entry_page', '!/blog/*|/')], ['visits'], source)).toEqual({ visits: 2 });
      expect(await aggregate([f('exit_page', '/blog/*|/')], ['visits'], source)).toEqual({ visits: 4 });
    }
    const ctx = { siteId: TINY_SITE, now: new Date('2026-03-11T00:25:00Z'), goals: GOALS };
    const current = async (entry: string) =>
      (await h.rows(buildRealtime({ minutes: 10, filters: [f('entry_page', entry)] }, ctx)))[0]!
        .current_visitors;
    expect(await current('/blog/*|/pricing')).toBe(1);
    expect(await current('/blog/*|/')).toBe(0);
  });

  it('breaks down by entry page, exit page and page', async () => {
    const breakdown = async (property: Property, metrics: Metric[]) => {
      const built = buildBreakdown(
        {
          property,
          metrics,
          filters: [],
          sort: { metric: metrics[0]!, direction: 'desc' },
          limit: 100,
          pageNumber: 1,
        },
        context(TINY_SITE, 'UTC', day()),
      );
      return (await h.rows(built.sql)).map((r) => ({ value: r.value, ...readMetrics(r, metrics) }));
    };
    expect(await breakdown('entry_page', ['entries', 'visitors', 'bounce_rate'])).toEqual([
      { value: '/', entries: 2, visitors: 2, bounce_rate: 0 },
      { value: '/pricing', entries: 2, visitors: 2, bounce_rate: 50 },
      { value: '/blog/y', entries: 1, visitors: 1, bounce_rate: 100 },
    ]);
    expect(await breakdown('exit_page', ['exits', 'visitors'])).toEqual([
      { value: '/', exits: 1, visitors: 1 },
      { value: '/blog/x', exits: 1, visitors: 1 },
      { value: '/blog/y', exits: 1, visitors: 1 },
      { value: '/blog/z', exits: 1, visitors: 1 },
      { value: '/pricing', exits: 1, visitors: 1 },
    ]);
    // Visits holding /: v1's, v4's and v2's late visit, whose / came after midnight.
    expect(
      (await breakdown('page', ['visits', 'pageviews', 'visitors'])).find((r) => r.value === '/'),
    ).toEqual({
      value: '/',
      visits: 3,
      pageviews: 2,
      visitors: 2,
    });
  });

  it('breaks down by goal with conversion rates over all visitors', async () => {
    for (const source of ['raw', 'rollups'] as const) {
      const built = buildBreakdown(
        {
          property: 'goal',
          metrics: ['visitors', 'events', 'conversion_rate'],
          filters: [],
          sort: { metric: 'visitors', direction: 'desc' },
          limit: 10,
          pageNumber: 1,
        },
        context(TINY_SITE, 'UTC', day(), source),
      );
      expect(await h.rows(built.sql)).toEqual([
        { value: 'Blog', visitors: 3, events: 3, conversion_rate: 75, total_rows: 3 },
        { value: 'Pricing', visitors: 3, events: 3, conversion_rate: 75, total_rows: 3 },
        { value: 'Signup', visitors: 1, events: 1, conversion_rate: 25, total_rows: 3 },
      ]);
    }
  });

  it('pages a breakdown and counts all its rows', async () => {
    const built = buildBreakdown(
      {
        property: 'page',
        metrics: ['pageviews'],
        filters: [],
        sort: { metric: 'pageviews', direction: 'desc' },
        limit: 2,
        pageNumber: 2,
      },
      context(TINY_SITE, 'UTC', day()),
    );
    expect(await h.rows(built.sql)).toEqual([
      { value: '/blog/x', pageviews: 1, total_rows: 5 },
      { value: '/blog/y', pageviews: 1, total_rows: 5 },
    ]);
    expect(await h.rows(built.countSql)).toEqual([{ total_rows: 5 }]);
    // Past the last page no row carries the count; the count query still has it.
    const beyond = buildBreakdown(
      {
        property: 'page',
        metrics: ['pageviews'],
        filters: [],
        sort: { metric: 'pageviews', direction: 'desc' },
        limit: 2,
        pageNumber: 4,
      },
      context(TINY_SITE, 'UTC', day()),
    );
    expect(await h.rows(beyond.sql)).toEqual([]);
  });

  it('fills an hourly timeseries, zeros included', async () => {
    const built = buildTimeseries(
      { metrics: ['visitors', 'pageviews'], filters: [] },
      context(TINY_SITE, 'UTC', day()),
    );
    expect(built.interval).toBe('hour');
    const series = fillTimeseries(built.buckets, await h.rows(built.sql), ['visitors', 'pageviews']);
    expect(series).toHaveLength(24);
    expect(series[10]).toEqual({ date: '2026-03-10T10:00:00.000Z', visitors: 1, pageviews: 3 });
    expect(series[9]).toEqual({ date: '2026-03-10T09:00:00.000Z', visitors: 0, pageviews: 0 });
    expect(series.reduce((n, r) => n + r.pageviews!, 0)).toBe(8);
  });

  it('counts current visitors, with a session-level filter on the visit', async () => {
    const ctx = { siteId: TINY_SITE, now: new Date('2026-03-11T00:25:00Z'), goals: GOALS };
    const count = async (filters: Filter[]) =>
      (await h.rows(buildRealtime({ minutes: 10, filters }, ctx)))[0]!.current_visitors;
    expect(await count([])).toBe(1);
    expect(await count([f('channel', 'Referral')])).toBe(1);
    expect(await count([f('channel', 'Direct')])).toBe(0);
  });

  it('follows a funnel in order', async () => {
    const steps: FunnelStep[] = [
      { name: 'Home', type: 'pageview', url: '/' },
      { name: 'Pricing', type: 'pageview', url: '/pricing' },
      { name: 'Signup', type: 'goal', goal_name: 'Signup' },
    ];
    const built = buildFunnel({ steps, filters: [] }, context(TINY_SITE, 'UTC', day()));
    expect(decodeFunnel(await h.rows(built.sql), steps)).toEqual({
      steps: [
        { name: 'Home', visitors: 2, conversion_rate: 100, drop_off: 0 },
        { name: 'Pricing', visitors: 1, conversion_rate: 50, drop_off: 1 },
        { name: 'Signup', visitors: 1, conversion_rate: 50, drop_off: 0 },
      ],
      conversion_rate: 50,
    });
  });

  it('draws click and scroll heatmaps', async () => {
    const ctx = context(TINY_SITE, 'UTC', day());
    const clicks = buildHeatmap({ page: '/pricing', type: 'click', filters: [] }, ctx);
    expect(await h.rows(clicks.sql)).toEqual([{ x: 10, y: 5, clicks: 1 }]);
    const scroll = buildHeatmap({ page: '/pricing', type: 'scroll', filters: [] }, ctx);
    expect(decodeScroll(await h.rows(scroll.sql)).map((r) => r.visitors)).toEqual([
      3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0,
    ]);
  });

  it('exports the period’s raw events in time order', async () => {
    const built = buildEventExport({ filters: [f('device', 'Mobile')] }, context(TINY_SITE, 'UTC', day()));
    const rows = await h.rows(built.sql);
    expect(rows.map((r) => r.name)).toEqual(['pageview', 'click', 'engagement']);
    expect(rows[0]).not.toHaveProperty('visitor_id');
  });

  it('exports under a custom property filter as CSV, where props is JSON text', async () => {
    for (const format of ['csv', 'ndjson'] as const) {
      const built = buildEventExport(
        { filters: [f('prop:plan', 'pro')], format },
        context(TINY_SITE, 'UTC', day()),
      );
      const rows = await h.rows(built.sql);
      expect(rows.map((r) => r.name)).toEqual(['signup']);
      expect(rows[0]!.props).toEqual(format === 'csv' ? '{"plan":"pro"}' : { plan: 'pro' });
    }
  });

  it('puts a visit whose partial rows straddle midnight in the period of its merged start', async () => {
    // Ingest replicas with skewed clocks: the id says 00:00:05 on the 10th, but an event stamped
    // 23:59:58 on the 9th reaches ClickHouse in a later insert, so `sessions` holds two partial
    // rows of one visit, one on each side of midnight. Read from `sessions`, the period must apply
    // to the merged start, never to a partial row's.
    const site = '44444444-4444-4444-8444-444444444444';
    const session = sessionIdAt(new Date('2026-03-10T00:00:05Z'), 1);
    const ev = (iso: string, pathname: string) =>
      eventRow(site, { visitor_id: '9', session_id: session, timestamp: new Date(iso), pathname });
    await h.insertEvents([ev('2026-03-10T00:00:05Z', '/second')]);
    await h.insertEvents([ev('2026-03-09T23:59:58Z', '/first')]);
    const metrics: Metric[] = ['visits', 'pageviews', 'visit_duration'];
    for (const source of ['rollups', 'raw'] as const) {
      const answer = async (date: string) => {
        const built = buildAggregate(
          { metrics, filters: [] },
          context(site, 'UTC', custom('UTC', date, date), source),
        );
        return readMetrics((await h.rows(built.sql))[0], metrics);
      };
      expect(await answer('2026-03-09'), source).toEqual({ visits: 1, pageviews: 1, visit_duration: 7 });
      expect(await answer('2026-03-10'), source).toEqual({ visits: 0, pageviews: 1, visit_duration: 0 });
    }
  });

  it('refuses raw events for a period before retention, but answers it from rollups', () => {
    const old = custom('UTC', '2025-06-01', '2025-06-30');
    const ctx = context(TINY_SITE, 'UTC', old);
    expect(buildAggregate({ metrics: SERIES_METRICS, filters: [] }, ctx).plan).toEqual({
      source: 'rollups',
      fromRollups: true,
    });
    const refused = () => buildAggregate({ metrics: ['visits'], filters: [f('page', '/pricing')] }, ctx);
    expect(refused).toThrow(ApiError);
    expect(refused).toThrow(/raw events.*kept 90 days/);
    try {
      refused();
    } catch (err) {
      expect((err as ApiError).code).toBe('unsupported_query');
      expect((err as ApiError).status).toBe(422);
    }
  });
});

describe('values that look like SQL travel as parameters', () => {
  it.each([
    ['utm_source', `it's "quoted"`],
    ['prop:plan', `free'n\\easy`],
    ['page', '/docs/50%_off'],
    ['page', '/docs/50*'],
  ])('%s=%s matches exactly the events that hold it', async (param, value) => {
    const period = custom('UTC', '2026-03-05', '2026-04-01');
    const built = buildAggregate(
      { metrics: ['events', 'visits'], filters: [f(param, value)] },
      context(TRAFFIC_SITE, 'UTC', period, 'raw'),
    );
    const [row] = await h.rows(built.sql);
    expect(Number(row!.visits)).toBeGreaterThan(0);
  });

  it.each(["'; DROP TABLE events; --", '\\', '{p0:String}', "\\'", '%', '_', 'a|b', '*'])(
    'a filter on %j runs and matches nothing',
    async (value) => {
      const period = custom('UTC', '2026-03-05', '2026-04-01');
      for (const param of ['page', 'utm_campaign', 'prop:x', 'hostname']) {
        const built = buildAggregate(
          { metrics: ['visitors', 'visits'], filters: [f(param, value === 'a|b' ? 'zz|yy' : `zz${value}`)] },
          context(TRAFFIC_SITE, 'UTC', period, 'raw'),
        );
        expect(await h.rows(built.sql)).toEqual([{ visitors: 0, visits: 0 }]);
      }
      const [row] = await h.rows<{ n: number }>({
        query: 'SELECT count() AS n FROM events',
        query_params: {},
      });
      expect(row!.n).toBeGreaterThan(0);
    },
  );

  it('a like pattern escapes % and _ : /docs/5_% does not match /docs/50%_off as a pattern would', async () => {
    const period = custom('UTC', '2026-03-05', '2026-04-01');
    const built = buildAggregate(
      { metrics: ['pageviews'], filters: [f('page', '/docs/5_%*')] },
      context(TRAFFIC_SITE, 'UTC', period, 'raw'),
    );
    expect(await h.rows(built.sql)).toEqual([{ pageviews: 0 }]);
  });
});

describe('rollups and raw events give the same answers', () => {
  const filterSets: Array<[string, Filter[]]> = [
    ['no filter', []],
    ['country=DE', [f('country', 'DE')]],
    ['country=!DE|FR', [f('country', '!DE|FR')]],
    ['country=US&region=Illinois', [f('country', 'US'), f('region', 'Illinois')]],
    ['device=Mobile', [f('device', 'Mobile')]],
    ['browser=Safari|Chrome', [f('browser', 'Safari|Chrome')]],
    ['os=!Linux', [f('os', '!Linux')]],
    ['page=/blog/*', [f('page', '/blog/*')]],
    ['page=!/blog/*', [f('page', '!/blog/*')]],
    ['hostname=example.*', [f('hostname', 'example.*')]],
    ['event=signup', [f('event', 'signup')]],
    ['event=!pageview', [f('event', '!pageview')]],
    ['goal=Signup', [f('goal', 'Signup')]],
    ['goal=Blog|Pricing', [f('goal', 'Blog|Pricing')]],
    ['channel=Organic Search', [f('channel', 'Organic Search')]],
    ['channel=Direct&country=DE', [f('channel', 'Direct'), f('country', 'DE')]],
    ['referrer=google.com|t.co', [f('referrer', 'google.com|t.co')]],
    ['utm_source=it’s "quoted"', [f('utm_source', `it's "quoted"`)]],
    ['entry_page=/blog/*', [f('entry_page', '/blog/*')]],
    ['exit_page=!/', [f('exit_page', '!/')]],
    ['prop:plan=pro', [f('prop:plan', 'pro')]],
  ];
  const periods: Array<[string, string, string]> = [
    ['Europe/Berlin', '2026-03-27', '2026-03-31'],
    ['America/New_York', '2026-03-07', '2026-03-09'],
    ['Asia/Kathmandu', '2026-03-05', '2026-04-01'],
  ];
  const EVENT_ONLY: Metric[] = ['visitors', 'pageviews', 'events'];
  /** Breakdowns multiply by properties: one filter of each kind is enough there. */
  const BREAKDOWN_FILTERS = new Set([
    'no filter',
    'country=!DE|FR',
    'device=Mobile',
    'page=/blog/*',
    'hostname=example.*',
    'event=signup',
    'goal=Blog|Pricing',
    'channel=Organic Search',
    'entry_page=/blog/*',
    'prop:plan=pro',
  ]);
  let compared = 0;
  let rawOnly = 0;

  /** Runs the raw SQL always (it must be valid for every shape) and the rollup SQL where it applies. */
  async function check(
    shape: StatsShape,
    ctx: (source?: 'raw' | 'rollups') => StatsSqlContext,
    build: (c: StatsSqlContext) => Promise<unknown>,
  ) {
    const raw = await build(ctx('raw'));
    if (!rollupCoverage(shape, ctx()).ok) {
      rawOnly++;
      return;
    }
    expect(await build(ctx('rollups'))).toEqual(raw);
    compared++;
  }

  const sortRows = (rows: Record<string, unknown>[], key: string) =>
    [...rows].sort((a, b) => String(a[key]).localeCompare(String(b[key])));

  it.each(periods)(
    'aggregate and timeseries in %s %s..%s',
    async (tz, from, to) => {
      const period = custom(tz, from, to);
      const ctx = (source?: 'raw' | 'rollups') => context(TRAFFIC_SITE, tz, period, source);
      for (const [, filters] of filterSets) {
        for (const metrics of [SERIES_METRICS, EVENT_ONLY]) {
          await check({ metrics, filters, grouping: { kind: 'total' } }, ctx, async (c) =>
            h.rows(buildAggregate({ metrics, filters }, c).sql),
          );
          for (const interval of ['hour', 'day', 'week', 'month'] as Interval[]) {
            await check({ metrics, filters, grouping: { kind: 'bucket', interval } }, ctx, async (c) => {
              const built = buildTimeseries({ metrics, filters, interval }, c);
              return sortRows(await h.rows(built.sql), 'bucket');
            });
          }
        }
      }
    },
    300_000,
  );

  it.each(periods)(
    'every breakdown in %s %s..%s',
    async (tz, from, to) => {
      const period = custom(tz, from, to);
      const ctx = (source?: 'raw' | 'rollups') => context(TRAFFIC_SITE, tz, period, source);
      for (const [property, allowed] of Object.entries(PROPERTY_METRICS) as Array<
        [Property, readonly Metric[]]
      >) {
        const scoped = property === 'region' || property === 'city' ? [f('country', 'US')] : [];
        const sets = filterSets
          .filter(([name]) => BREAKDOWN_FILTERS.has(name))
          .map(([, fs]) => [...fs.filter((x) => x.key !== 'country'), ...scoped]);
        for (const filters of sets) {
          const eventOnly = allowed.filter((m) => !VISIT_METRICS.has(m));
          const metricSets =
            eventOnly.length && eventOnly.length < allowed.length ? [allowed, eventOnly] : [allowed];
          for (const metrics of metricSets) {
            await check({ metrics, filters, grouping: { kind: 'property', property } }, ctx, async (c) => {
              const built = buildBreakdown(
                {
                  property,
                  metrics,
                  filters,
                  sort: { metric: metrics[0]!, direction: 'desc' },
                  limit: 1000,
                  pageNumber: 1,
                },
                c,
              );
              return { rows: await h.rows(built.sql), total: await h.rows(built.countSql) };
            });
          }
        }
      }
    },
    600_000,
  );

  it('compared a good share of shapes from both sources', () => {
    expect(compared).toBeGreaterThan(300);
    expect(rawOnly).toBeGreaterThan(100);
  });
});
