import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClickHouse,
  refreshClosedMonthSummaries,
  VALID_BUILDS_SQL,
  type ClickHouse,
} from '@tidemark/clickhouse';
import { migrateClickHouse } from '@tidemark/clickhouse';
import { sessionIdAt } from '@tidemark/events';
import { stackEnv, uniqueSuffix } from '../../../../test/support/stack';
import { SERIES_METRICS, type Metric } from '../metrics';
import { resolvePeriod } from '../periods';
import { eventRow, generateTraffic } from '../testing/dataset';
import type { StatsSqlContext } from './planner';
import type { ClickHouseQuery } from './query-params';
import { buildAggregate } from './stats';

/*
 * Closed-month summaries on the real engine: an aggregate reads them for the months they cover and
 * answers exactly what it answers without them, and a month that changed after its build is read
 * in full until the next build.
 */

const SITE = '5a1c7e2e-3b0f-4c55-9d0e-6b2f0a9c1e11';
const OTHER = '6b2d8f3f-4c1a-4d66-8e1f-7c3a1b0d2f22';
const NOW = new Date('2026-04-05T00:00:00Z');
const METRICS: readonly Metric[] = [...SERIES_METRICS, 'views_per_visit'];
// Berlin: 2026-01-24T23:00Z .. 2026-04-03T22:00Z, which holds the whole UTC months 02 and 03.
const PERIOD = resolvePeriod(
  { preset: 'custom', from: '2026-01-25', to: '2026-04-03' },
  {
    timezone: 'Europe/Berlin',
    now: NOW,
  },
);

describe('closed-month summaries', () => {
  let ch: ClickHouse;

  const rows = async <T = Record<string, unknown>>(q: ClickHouseQuery | string) => {
    const { query, query_params } = typeof q === 'string' ? { query: q, query_params: {} } : q;
    return (await ch.query({ query, query_params, format: 'JSONEachRow' })).json<T>();
  };
  const context = (forceSource?: 'raw' | 'rollups'): StatsSqlContext => ({
    siteId: SITE,
    timezone: 'Europe/Berlin',
    period: PERIOD,
    now: NOW,
    rawRetentionDays: 3650,
    goals: [],
    ...(forceSource ? { forceSource } : {}),
  });
  const aggregate = async (metrics: readonly Metric[] = METRICS, source?: 'raw' | 'rollups') =>
    (await rows(buildAggregate({ metrics, filters: [] }, context(source)).sql))[0];
  const insert = (values: Record<string, unknown>[]) =>
    ch.insert({ table: 'events', values, format: 'JSONEachRow' });
  const builds = async () =>
    (
      await rows<{ source: string; partition_id: string; n: string }>(
        `SELECT source, partition_id, toString(count()) AS n FROM summary_builds
          GROUP BY source, partition_id ORDER BY source, partition_id`,
      )
    ).map((r) => `${r.source} ${r.partition_id} x${r.n}`);
  const validBuild = async (source: string, partition: string) =>
    (await rows<{ source: string; partition_id: string; build_id: string }>(VALID_BUILDS_SQL)).find(
      (r) => r.source === source && r.partition_id === partition,
    )!.build_id;

  beforeAll(async () => {
    // Raw retention far beyond NOW's past, so raw answers can be compared with summarized ones.
    const config = { url: stackEnv().CLICKHOUSE_URL, database: `t_${uniqueSuffix()}` };
    await migrateClickHouse(config, { rawRetentionDays: 3650 });
    ch = createClickHouse({ ...config, requestTimeoutMs: 120_000 });
    const traffic = [
      ...generateTraffic(SITE, new Date('2026-01-20T00:00:00Z'), new Date('2026-04-04T00:00:00Z'), 11, 120),
      ...generateTraffic(OTHER, new Date('2026-01-20T00:00:00Z'), new Date('2026-04-04T00:00:00Z'), 12, 30),
    ];
    // Several inserts, so a visit's partial rows sit in several parts of a month.
    for (let i = 0; i < 4; i++) await insert(traffic.filter((_, j) => j % 4 === i));
  }, 180_000);

  afterAll(async () => {
    await ch?.close();
  });

  it('answers an aggregate from closed months exactly as without them', async () => {
    const before = await aggregate();
    expect(Number(before!.visits)).toBeGreaterThan(200);
    expect(await aggregate(METRICS, 'raw')).toEqual(before);

    const built = await refreshClosedMonthSummaries(ch, { now: NOW });
    // April is the current month at NOW: it is never summarized.
    expect(built.map((b) => `${b.source} ${b.partitionId}`).sort()).toEqual([
      'rollup_site_per_15m 202601',
      'rollup_site_per_15m 202602',
      'rollup_site_per_15m 202603',
      'sessions_v2 202601',
      'sessions_v2 202602',
      'sessions_v2 202603',
    ]);
    expect(await aggregate()).toEqual(before);
    expect(await aggregate(['visitors'])).toEqual({ visitors: before!.visitors });
    expect(await aggregate(['visits', 'bounce_rate', 'visit_duration'])).toEqual({
      visits: before!.visits,
      bounce_rate: before!.bounce_rate,
      visit_duration: before!.visit_duration,
    });
    // Nothing changed: a second run builds nothing.
    expect(await refreshClosedMonthSummaries(ch, { now: NOW })).toEqual([]);
  });

  it('reads a month that changed after its build in full, until the next build replaces it', async () => {
    const before = await aggregate();
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
    const late = await aggregate();
    expect(Number(late!.visits)).toBe(Number(before!.visits) + 1);
    expect(Number(late!.pageviews)).toBe(Number(before!.pageviews) + 2);
    expect(await aggregate(METRICS, 'raw')).toEqual(late);

    const rebuilt = await refreshClosedMonthSummaries(ch, { now: NOW });
    expect(rebuilt.map((b) => `${b.source} ${b.partitionId}`).sort()).toEqual([
      'rollup_site_per_15m 202602',
      'sessions_v2 202602',
    ]);
    expect(await aggregate()).toEqual(late);
    // The older build of February is gone, rows and all.
    expect(await builds()).toEqual([
      'rollup_site_per_15m 202601 x1',
      'rollup_site_per_15m 202602 x1',
      'rollup_site_per_15m 202603 x1',
      'sessions_v2 202601 x1',
      'sessions_v2 202602 x1',
      'sessions_v2 202603 x1',
    ]);
    for (const table of ['sessions_summary_per_15m', 'sessions_summary_per_month', 'rollup_site_per_month']) {
      const stale = await rows<{ n: string }>(
        `SELECT toString(count()) AS n FROM ${table} WHERE build_id NOT IN (SELECT build_id FROM summary_builds)`,
      );
      expect({ table, stale }).toEqual({ table, stale: [{ n: '0' }] });
    }
  });

  it('reads the summaries, not the source, for the months they cover', async () => {
    const before = await aggregate();
    // Rows added to a valid build of each summary show up in the answer: proof it is what is read.
    const february = await validBuild('sessions_v2', '202602');
    const visits = { bounces: 0, duration_ms: 0, pageviews: 0, events: 0 };
    // February is a whole month of the period: its month row is read, not its 15-minute rows.
    await ch.insert({
      table: 'sessions_summary_per_month',
      format: 'JSONEachRow',
      values: [
        { build_id: february, site_id: SITE, partition_id: '202602', from_day: 1, visits: 1000, ...visits },
        { build_id: february, site_id: SITE, partition_id: '202602', from_day: 2, visits: 50, ...visits },
      ],
    });
    await ch.insert({
      table: 'sessions_summary_per_15m',
      format: 'JSONEachRow',
      values: [
        {
          build_id: february,
          site_id: SITE,
          partition_id: '202602',
          bucket: '2026-02-11 10:00:00',
          visits: 300,
          ...visits,
        },
        // A visit of February's partition that started in March is not in the month row.
        {
          build_id: february,
          site_id: SITE,
          partition_id: '202602',
          bucket: '2026-03-01 00:00:00',
          visits: 4,
          ...visits,
        },
      ],
    });
    // The period starts on 2026-01-25 (UTC): January is read from day 25, March whole.
    const january = await validBuild('rollup_site_per_15m', '202601');
    const march = await validBuild('rollup_site_per_15m', '202603');
    await ch.insert({
      table: 'rollup_site_per_month',
      format: 'JSONEachRow',
      values: [
        { build_id: march, site_id: SITE, partition_id: '202603', from_day: 1, pageviews: 7, events: 7 },
        { build_id: january, site_id: SITE, partition_id: '202601', from_day: 25, pageviews: 5, events: 5 },
        {
          build_id: january,
          site_id: SITE,
          partition_id: '202601',
          from_day: 24,
          pageviews: 100,
          events: 100,
        },
        { build_id: march, site_id: SITE, partition_id: '202603', from_day: 2, pageviews: 100, events: 100 },
      ],
    });
    const after = await aggregate(['visits', 'pageviews']);
    expect(Number(after!.visits)).toBe(Number(before!.visits) + 1004);
    expect(Number(after!.pageviews)).toBe(Number(before!.pageviews) + 12);
  });
});
