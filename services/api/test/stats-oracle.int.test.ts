import { refreshClosedMonthSummaries, refreshDimensionDays } from '@tidemark/clickhouse';
import { generateSiteTraffic, prng } from '@tidemark/stats-query/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, type RunningPipeline } from '../../../test/support/services';
import { waitFor } from '../../../test/support/stack';
import { call, createGoal, createSite, signup, createFunnel } from './helpers';
import { produceEvents, qs, startStatsApi, type StatsTestApi } from './stats-fixtures';
import {
  addDays,
  breakdownPage,
  bucketStarts,
  change,
  comparison,
  compute,
  funnel,
  heatmap,
  localDate,
  midnight,
  oracleSite,
  period,
  rawCovers,
  realtime,
  rollupsAnswer,
  type FilterSpec,
  type FunnelStepSpec,
  type Goal,
  type OracleSite,
  type Period,
  type Shape,
  visitsMatchEvents,
} from './stats-oracle';

/*
 * The stats API against an independent computation (stats-oracle.ts) over the same generated
 * events: several sites in zones with DST and a +05:45 offset, 400+ days of visits, raw retention
 * at 90 days so that old periods come from rollups and queries needing raw events there are
 * refused; closed months summarized as the worker does. The events go to Kafka as ingest writes
 * them and the real consumer process loads them. Then the same questions answered from rollups
 * only and from raw events only.
 */

const NOW = Date.now();
const RETENTION_DAYS = 90;
const DAY = 86_400_000;

const GOALS: Goal[] = [
  { name: 'Signup', event_name: 'signup' },
  { name: 'Download', event_name: 'download' },
  { name: 'Pricing', page_path: '/pricing' },
  { name: 'Blog', page_path: '/blog/*' },
];
const FUNNEL_STEPS: FunnelStepSpec[] = [
  { name: 'Home', type: 'pageview', url: '/' },
  { name: 'Pricing', type: 'pageview', url: '/pricing' },
  { name: 'Signed up', type: 'goal', goal_name: 'Signup' },
];

const SITES = [
  { key: 'ny', timezone: 'America/New_York', days: 430, visitsPerDay: 14, visitors: 1200, seed: 11 },
  { key: 'ktm', timezone: 'Asia/Kathmandu', days: 420, visitsPerDay: 10, visitors: 900, seed: 12 },
  { key: 'ber', timezone: 'Europe/Berlin', days: 40, visitsPerDay: 12, visitors: 300, seed: 13 },
] as const;

const F = (param: string, value: string): FilterSpec => ({ param, value });
const FILTER_SETS: FilterSpec[][] = [
  [],
  [],
  [F('country', 'US')],
  [F('country', '!US|DE')],
  [F('device', 'Mobile')],
  [F('browser', 'Safari|Chrome')],
  [F('os', '!Linux')],
  [F('city', 'Springfield')],
  [F('page', '/blog/*')],
  [F('page', '!/blog/*')],
  [F('page', '/pricing|/')],
  [F('hostname', 'docs.example.com')],
  [F('hostname', '*.example.com')],
  [F('event', 'signup')],
  [F('event', '!pageview')],
  [F('goal', 'Signup')],
  [F('goal', 'Blog|Pricing')],
  [F('goal', '!Download')],
  [F('prop:plan', 'pro')],
  [F('prop:plan', '!pro')],
  [F('prop:file', 'price list.csv')],
  [F('channel', 'Organic Search')],
  [F('referrer', 'google.com|t.co')],
  [F('utm_source', 'newsletter')],
  [F('utm_campaign', 'spring sale')],
  [F('utm_medium', '!cpc')],
  [F('utm_content', 'header')],
  [F('utm_term', 'web analytics')],
  [F('entry_page', '/blog/*')],
  [F('exit_page', '!/')],
  [F('country', 'US'), F('channel', 'Direct')],
  [F('page', '/blog/*'), F('device', 'Desktop')],
  [F('event', 'signup'), F('prop:plan', 'pro')],
  [F('country', 'DE'), F('region', 'Berlin')],
];

const SERIES = [
  'visitors',
  'visits',
  'pageviews',
  'views_per_visit',
  'bounce_rate',
  'visit_duration',
  'events',
];
const TRAFFIC = ['visitors', 'pageviews', 'visits', 'bounce_rate', 'visit_duration'];
const CONVERSIONS = ['events', 'visitors', 'conversion_rate'];
const PROPERTY_METRICS: Record<string, string[]> = {
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

interface SiteUnderTest {
  oracle: OracleSite;
  id: string;
  funnelId: string;
}

let main: StatsTestApi;
let rawOnly: StatsTestApi;
let rollupsOnly: StatsTestApi;
let token: string;
const sites = new Map<string, SiteUnderTest>();

let pipeline: RunningPipeline;

beforeAll(async () => {
  pipeline = await startPipeline(['consumer'], { RAW_RETENTION_DAYS: String(RETENTION_DAYS) });
  const env = {
    DATABASE_URL: pipeline.env.DATABASE_URL!,
    CLICKHOUSE_DATABASE: pipeline.env.CLICKHOUSE_DATABASE!,
    RAW_RETENTION_DAYS: String(RETENTION_DAYS),
  };
  const now = () => new Date(NOW);
  main = await startStatsApi(env, { now });
  rawOnly = await startStatsApi(env, { now, forceSource: 'raw' });
  rollupsOnly = await startStatsApi(env, { now, forceSource: 'rollups' });
  token = (await signup(main.app)).token;
  const all: Array<Record<string, unknown>> = [];
  for (const s of SITES) {
    const site = await createSite(main.app, token, { timezone: s.timezone });
    for (const goal of GOALS) await createGoal(main.app, token, site.id, { ...goal });
    const created = await createFunnel(main.app, token, site.id, {
      name: 'Signup path',
      steps: FUNNEL_STEPS,
    });
    const rows = generateSiteTraffic({
      siteId: site.id,
      from: new Date(NOW - s.days * DAY),
      to: new Date(NOW),
      seed: s.seed,
      visitsPerDay: s.visitsPerDay,
      visitors: s.visitors,
    });
    all.push(...rows);
    sites.set(s.key, {
      id: site.id,
      funnelId: created.id,
      oracle: oracleSite(site.id, s.timezone, rows, GOALS),
    });
  }
  await produceEvents(pipeline.env, all);
  // From the site rollup, kept for ever: the raw table's TTL may already drop the oldest events.
  await waitFor(
    async () => {
      const rs = await main.clickhouse.query({
        query: 'SELECT toString(sum(events)) AS n FROM rollup_site_per_15m',
        format: 'JSONEachRow',
      });
      const [row] = await rs.json<{ n: string }>();
      return Number(row?.n) === all.length ? true : undefined;
    },
    { timeout: 120_000, message: `the consumer stored all ${all.length} events` },
  );
  // As the worker does: closed months summarized and day totals built, so long periods of `main`
  // read them (rawOnly and rollupsOnly, forced to one source, never do) and must still match the
  // oracle.
  const built = await refreshClosedMonthSummaries(main.clickhouse, { now: new Date(NOW) });
  expect(built.filter((b) => b.kind === 'site_year_prefix').length).toBeGreaterThan(0);
  expect((await refreshDimensionDays(main.clickhouse, new Date(NOW))).length).toBeGreaterThan(1);
}, 180_000);

afterAll(async () => {
  await main?.close();
  await rawOnly?.close();
  await rollupsOnly?.close();
  await pipeline?.stop();
});

/* ---------- the sample of questions ---------- */

interface Case {
  site: string;
  endpoint: 'aggregate' | 'timeseries' | 'breakdown';
  preset: string;
  custom?: { from: string; to: string };
  filters: FilterSpec[];
  metrics: string[];
  compare?: 'previous_period' | 'year_over_year';
  interval?: string;
  property?: string;
  sort?: { metric: string; direction: 'asc' | 'desc' };
  limit?: number;
  pageNumber?: number;
}

const random = prng(2026);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const subset = (xs: readonly string[]) => {
  const chosen = xs.filter(() => random() < 0.5);
  return chosen.length ? chosen : [pick(xs)];
};

const today = (site: string) => localDate(sites.get(site)!.oracle.timezone, NOW);

/** Local dates on which the site's UTC offset changes (23- and 25-hour days), most recent first. */
function clockChangeDays(site: string): string[] {
  const { timezone } = sites.get(site)!.oracle;
  const found: string[] = [];
  for (let d = today(site); found.length < 4 && d > addDays(today(site), -420); d = addDays(d, -1)) {
    if (midnight(timezone, addDays(d, 1)) - midnight(timezone, d) !== DAY) found.push(d);
  }
  return found;
}

function customPeriods(site: string): Array<{ from: string; to: string }> {
  const t = today(site);
  const changes = clockChangeDays(site).map((d) => ({ from: d, to: d }));
  return [
    { from: addDays(t, -20), to: addDays(t, -3) },
    { from: addDays(t, -300), to: addDays(t, -280) },
    // The first day raw events fully cover, and the day before: the retention edge.
    { from: addDays(t, -RETENTION_DAYS + 1), to: addDays(t, -RETENTION_DAYS + 10) },
    { from: addDays(t, -RETENTION_DAYS + 2), to: addDays(t, -RETENTION_DAYS + 10) },
    ...changes,
  ];
}

const PRESETS = [
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
  'all',
  'custom',
];

function aggregateCases(): Case[] {
  const cases: Case[] = [];
  for (const s of SITES) {
    for (const preset of PRESETS) {
      const customs = preset === 'custom' ? customPeriods(s.key) : [undefined];
      // Two questions per period, with different filters and metrics.
      for (const custom of [...customs, ...customs]) {
        const c: Case = {
          site: s.key,
          endpoint: 'aggregate',
          preset,
          filters: pick(FILTER_SETS),
          metrics: random() < 0.5 ? SERIES : subset(SERIES),
          ...(custom ? { custom } : {}),
        };
        if (preset !== 'all' && random() < 0.4)
          c.compare = pick(['previous_period', 'year_over_year'] as const);
        cases.push(c);
      }
    }
  }
  return cases;
}

function timeseriesCases(): Case[] {
  const cases: Case[] = [];
  const plans: Array<[string, string | undefined]> = [
    ['today', undefined],
    ['yesterday', 'hour'],
    ['24h', 'hour'],
    ['7d', 'day'],
    ['30d', 'week'],
    ['12m', 'month'],
    ['month', 'day'],
    ['wtd', 'day'],
    ['ytd', 'week'],
    ['all', 'month'],
  ];
  for (const s of SITES) {
    for (const [preset, interval] of plans) {
      cases.push({
        site: s.key,
        endpoint: 'timeseries',
        preset,
        filters: pick(FILTER_SETS),
        metrics: subset(SERIES),
        ...(interval ? { interval } : {}),
      });
    }
    for (const day of clockChangeDays(s.key)) {
      cases.push({
        site: s.key,
        endpoint: 'timeseries',
        preset: 'custom',
        custom: { from: day, to: day },
        filters: pick(FILTER_SETS),
        metrics: subset(SERIES),
        interval: 'hour',
      });
    }
  }
  return cases;
}

function breakdownCase(property: string, presets: readonly string[], site = pick(SITES).key): Case {
  const allowed = PROPERTY_METRICS[property]!;
  const metrics = random() < 0.4 ? allowed : subset(allowed);
  let filters = pick(FILTER_SETS).filter(
    (f) => !(['region', 'city'].includes(property) && f.param === 'country'),
  );
  if (property === 'region' || property === 'city') filters = [F('country', 'US'), ...filters];
  const preset = pick(presets);
  return {
    site,
    endpoint: 'breakdown',
    preset,
    ...(preset === 'custom' ? { custom: pick(customPeriods(site)) } : {}),
    property,
    filters,
    metrics,
    ...(random() < 0.8 ? { sort: { metric: pick(allowed), direction: pick(['asc', 'desc'] as const) } } : {}),
    limit: 1 + Math.floor(random() * 12),
    pageNumber: 1 + Math.floor(random() * 3),
  };
}

function breakdownCases(): Case[] {
  const presets = ['7d', '30d', 'month', '12m', 'today', 'custom'];
  return Object.keys(PROPERTY_METRICS).flatMap((property) => [
    breakdownCase(property, presets),
    breakdownCase(property, presets),
    breakdownCase(property, presets),
  ]);
}

/* ---------- asking and checking ---------- */

function paramsOf(site: SiteUnderTest, c: Case): string {
  return qs({
    site_id: site.id,
    period: c.preset,
    from: c.custom?.from,
    to: c.custom?.to,
    metrics: c.metrics.join(','),
    compare: c.compare,
    interval: c.interval,
    property: c.property,
    sort: c.sort ? `${c.sort.metric}.${c.sort.direction}` : undefined,
    limit: c.limit,
    page_number: c.pageNumber,
    ...Object.fromEntries(c.filters.map((f) => [f.param, f.value])),
  });
}

const get = (api: StatsTestApi, path: string) => call(api.app, 'GET', path, { token });

/** The sort a breakdown uses when none is given: visitors if asked for, else the first metric, descending. */
const sortOf = (c: Case) =>
  c.sort ?? {
    metric: c.metrics.includes('visitors') ? 'visitors' : c.metrics[0]!,
    direction: 'desc' as const,
  };

function shapeOf(site: OracleSite, c: Case, p: Period): Shape {
  if (c.endpoint === 'breakdown') {
    return {
      metrics: [...new Set([...c.metrics, sortOf(c).metric])],
      filters: c.filters,
      grouping: { kind: 'property', property: c.property! },
    };
  }
  if (c.endpoint === 'timeseries') {
    const interval = c.interval ?? (c.preset === '24h' || p.from === p.to ? 'hour' : 'day');
    return {
      metrics: c.metrics,
      filters: c.filters,
      grouping: { kind: 'bucket', starts: bucketStarts(site, p, interval) },
    };
  }
  return { metrics: c.metrics, filters: c.filters, grouping: { kind: 'total' } };
}

const pickMetrics = (values: Record<string, number> | undefined, metrics: string[]) =>
  Object.fromEntries(metrics.map((m) => [m, values?.[m] ?? 0]));

/** What the api must answer, or `422` when it must refuse. */
function expected(c: Case): { status: 200; body: unknown; fromRollups: boolean } | { status: 422 } {
  const { oracle: site } = sites.get(c.site)!;
  const p = period(site, c.preset, NOW, c.custom);
  const shape = shapeOf(site, c, p);
  const raw = !rollupsAnswer(site, shape);
  const periods = [p, ...(c.compare ? [comparison(site, p, c.compare)] : [])];
  if (raw && periods.some((q) => !rawCovers(q, shape, NOW, RETENTION_DAYS))) return { status: 422 };
  const periodBody = { from: p.from, to: p.to, preset: c.preset };
  const meta = { timezone: site.timezone, from_rollups: !raw || visitsMatchEvents(shape) };
  if (c.endpoint === 'aggregate') {
    const metrics = pickMetrics(compute(site, p, shape).get(''), c.metrics);
    let comparisonBody;
    if (c.compare) {
      const cp = periods[1]!;
      const old = pickMetrics(compute(site, cp, shape).get(''), c.metrics);
      comparisonBody = {
        period: { from: cp.from, to: cp.to, preset: c.preset },
        metrics: old,
        change: Object.fromEntries(c.metrics.map((m) => [m, change(m, metrics[m]!, old[m]!)])),
      };
    }
    return {
      status: 200,
      fromRollups: !raw,
      body: { period: periodBody, metrics, ...(comparisonBody ? { comparison: comparisonBody } : {}), meta },
    };
  }
  if (c.endpoint === 'timeseries') {
    const rows = compute(site, p, shape);
    const starts = (shape.grouping as { starts: number[] }).starts;
    const results = starts.map((t) => {
      const date = new Date(t).toISOString();
      return { date, ...pickMetrics(rows.get(date), c.metrics) };
    });
    const interval = c.interval ?? (c.preset === '24h' || p.from === p.to ? 'hour' : 'day');
    return { status: 200, fromRollups: !raw, body: { period: periodBody, interval, results, meta } };
  }
  const page = breakdownPage(compute(site, p, shape), sortOf(c), c.limit!, c.pageNumber!);
  return {
    status: 200,
    fromRollups: !raw,
    body: {
      property: c.property,
      period: periodBody,
      results: page.results.map((r) => ({
        value: r.value,
        ...pickMetrics(r as Record<string, number>, c.metrics),
      })),
      pagination: {
        page_number: c.pageNumber,
        limit: c.limit,
        total_rows: page.total,
        total_pages: Math.ceil(page.total / c.limit!),
      },
      meta,
    },
  };
}

const tally = { answered: 0, refused: 0, fromRollups: 0, fromRaw: 0 };

async function check(c: Case) {
  const site = sites.get(c.site)!;
  const url = `/api/v1/stats/${c.endpoint}?${paramsOf(site, c)}`;
  const want = expected(c);
  const res = await get(main, url);
  const label = `${c.site} ${url.replace(site.id, '<site>')}`;
  if (want.status === 422) {
    expect({ label, status: res.status, code: res.body?.error?.code }).toEqual({
      label,
      status: 422,
      code: 'unsupported_query',
    });
    tally.refused++;
    return;
  }
  expect({ label, status: res.status }, JSON.stringify(res.body)).toEqual({ label, status: 200 });
  expect({ label, body: res.body }).toEqual({ label, body: want.body });
  tally.answered++;
  if (want.fromRollups) tally.fromRollups++;
  else tally.fromRaw++;
}

describe('the stats api agrees with an independent computation over the same events', () => {
  it('aggregate: every period preset, filters, comparisons', async () => {
    for (const c of aggregateCases()) await check(c);
  });

  it('timeseries: every interval, every bucket, 23- and 25-hour days', async () => {
    for (const c of timeseriesCases()) await check(c);
  });

  it('breakdown: every property, metric, sort and page', async () => {
    for (const c of breakdownCases()) await check(c);
  });

  it('answered most questions and refused those needing expired raw events', () => {
    console.log(`stats oracle: ${JSON.stringify(tally)}`);
    expect(tally.answered).toBeGreaterThan(150);
    expect(tally.refused).toBeGreaterThan(20);
    expect(tally.fromRollups).toBeGreaterThan(60);
    expect(tally.fromRaw).toBeGreaterThan(40);
  });

  it('realtime: visitors of the last minutes, with filters', async () => {
    const site = sites.get('ny')!;
    for (const [minutes, filters] of [
      [5, []],
      [30, []],
      [60, [F('channel', '!Direct')]],
      [60, [F('device', 'Desktop')]],
    ] as Array<[number, FilterSpec[]]>) {
      const res = await get(
        main,
        `/api/v1/stats/realtime?${qs({ site_id: site.id, minutes, ...Object.fromEntries(filters.map((f) => [f.param, f.value])) })}`,
      );
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        current_visitors: realtime(site.oracle, NOW, minutes, filters),
        window_minutes: minutes,
      });
    }
  });

  it('funnel: visitors through the steps in order', async () => {
    for (const [key, preset] of [
      ['ny', '30d'],
      ['ktm', 'month'],
    ] as const) {
      const site = sites.get(key)!;
      const p = period(site.oracle, preset, NOW);
      const reached = funnel(site.oracle, p, FUNNEL_STEPS, 1440 * 60_000);
      const pct = (a: number, b: number) => (b === 0 ? 0 : Math.round((1000 * a) / b) / 10);
      const res = await get(
        main,
        `/api/v1/stats/funnel?${qs({ site_id: site.id, funnel_id: site.funnelId, period: preset })}`,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toEqual({
        funnel: { id: site.funnelId, name: 'Signup path', window_minutes: 1440 },
        period: { from: p.from, to: p.to, preset },
        steps: FUNNEL_STEPS.map((s, i) => ({
          name: s.name,
          visitors: reached[i],
          conversion_rate: pct(reached[i]!, reached[0]!),
          drop_off: i === 0 ? 0 : reached[i - 1]! - reached[i]!,
        })),
        conversion_rate: pct(reached[reached.length - 1]!, reached[0]!),
        meta: { timezone: site.oracle.timezone, from_rollups: false },
      });
      // Month to date may be only days long on the day CI runs; 30 days always holds completed
      // funnels, so the comparison above cannot pass by being all zeros.
      if (preset === '30d') expect(reached[2]).toBeGreaterThan(0);
    }
  });

  it('heatmap: click cells and scroll depths', async () => {
    const site = sites.get('ktm')!;
    const p = period(site.oracle, '30d', NOW);
    const want = heatmap(site.oracle, p, '/pricing', 20);
    const clicks = await get(main, `/api/v1/stats/heatmap?${qs({ site_id: site.id, page: '/pricing' })}`);
    expect(clicks.body).toMatchObject({ type: 'click', grid_size: 20, results: want.clicks });
    const scroll = await get(
      main,
      `/api/v1/stats/heatmap?${qs({ site_id: site.id, page: '/pricing', type: 'scroll' })}`,
    );
    expect(scroll.body).toMatchObject({ type: 'scroll', results: want.scroll });
    expect(want.clicks.length).toBeGreaterThan(10);
  });

  it('export: the daily rows are the daily timeseries, the event rows the period’s events', async () => {
    const site = sites.get('ny')!;
    const p = period(site.oracle, '30d', NOW);
    const daily = await main.app.inject({
      method: 'GET',
      url: `/api/v1/stats/export?${qs({ site_id: site.id, type: 'daily', format: 'ndjson' })}`,
      headers: { authorization: `Bearer ${token}` },
    });
    const rows = compute(site.oracle, p, {
      metrics: SERIES,
      filters: [],
      grouping: { kind: 'bucket', starts: bucketStarts(site.oracle, p, 'day') },
    });
    expect(
      daily.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual(
      bucketStarts(site.oracle, p, 'day').map((t) => ({
        date: localDate(site.oracle.timezone, t),
        ...pickMetrics(rows.get(new Date(t).toISOString()), SERIES),
      })),
    );
    const events = await main.app.inject({
      method: 'GET',
      url: `/api/v1/stats/export?${qs({ site_id: site.id, type: 'events', period: '7d', country: 'US' })}`,
      headers: { authorization: `Bearer ${token}` },
    });
    const p7 = period(site.oracle, '7d', NOW);
    const lines = events.body.trim().split('\n');
    expect(lines[0]!.split(',')[0]).toBe('"timestamp"');
    expect(lines.length - 1).toBe(
      site.oracle.events.filter((e) => e.ts >= p7.start && e.ts < p7.end && e.country === 'US').length,
    );
  });
});

describe('rollups and raw events give the same answers through the api', () => {
  /** Questions both sources can answer: rollups hold them and raw events cover the period. */
  function equivalenceCases(): Case[] {
    const presets = ['today', 'yesterday', '24h', '7d', '30d', 'wtd', 'mtd', 'month', 'custom'];
    const cases: Case[] = [];
    while (cases.length < 70) {
      const kind = pick(['aggregate', 'timeseries', 'breakdown', 'breakdown'] as const);
      const site = pick(SITES).key;
      const preset = pick(presets);
      const custom =
        preset === 'custom' ? { from: addDays(today(site), -40), to: addDays(today(site), -33) } : undefined;
      const c: Case =
        kind === 'breakdown'
          ? {
              ...breakdownCase(pick(Object.keys(PROPERTY_METRICS)), [preset], site),
              ...(custom ? { custom } : {}),
            }
          : {
              site,
              endpoint: kind,
              preset,
              filters: pick(FILTER_SETS),
              metrics: subset(SERIES),
              ...(custom ? { custom } : {}),
              ...(kind === 'timeseries'
                ? { interval: preset === '24h' ? 'hour' : pick(['hour', 'day', 'week']) }
                : {}),
            };
      if (c.interval === 'hour' && !['today', 'yesterday', '24h', '7d'].includes(c.preset)) continue;
      const oracle = sites.get(site)!.oracle;
      const p = period(oracle, c.preset, NOW, c.custom);
      const shape = shapeOf(oracle, c, p);
      if (rollupsAnswer(oracle, shape) && rawCovers(p, shape, NOW, RETENTION_DAYS)) cases.push(c);
    }
    return cases;
  }

  it('for every endpoint, period and filter the planner would answer from rollups', async () => {
    const withoutMeta = (body: Record<string, unknown>) => ({ ...body, meta: undefined });
    for (const c of equivalenceCases()) {
      const site = sites.get(c.site)!;
      const url = `/api/v1/stats/${c.endpoint}?${paramsOf(site, c)}`;
      const [raw, rollups] = await Promise.all([get(rawOnly, url), get(rollupsOnly, url)]);
      expect({ url, status: raw.status }, JSON.stringify(raw.body)).toEqual({ url, status: 200 });
      expect({ url, status: rollups.status }, JSON.stringify(rollups.body)).toEqual({ url, status: 200 });
      expect(raw.body.meta.from_rollups).toBe(false);
      expect(rollups.body.meta.from_rollups).toBe(true);
      expect({ url, body: withoutMeta(rollups.body) }).toEqual({ url, body: withoutMeta(raw.body) });
    }
  });
});
