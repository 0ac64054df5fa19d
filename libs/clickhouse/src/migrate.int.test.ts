import { randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionIdAt } from '@tidemark/events';
import { stackEnv, uniqueSuffix } from '../../../test/support/stack';
import { createClickHouse, type ClickHouse, type ClickHouseConfig } from './client';
import { CLICKHOUSE_MIGRATIONS_DIR, migrateClickHouse } from './migrate';
import {
  mergedSessionsSql,
  SESSION_FIRST_VALUES,
  SESSION_VISITOR_VALUES,
  type MergedSession,
} from './tables/sessions.table';

const SITE = '4f0c2a36-9a51-4d55-8f4e-0c7b8f1a2d90';

/** Three visits in three months; each insert below adds a partial row per visit it touches. */
const A = sessionIdAt(new Date('2026-09-30T23:50:00Z'), 1);
const B = sessionIdAt(new Date('2026-10-15T12:00:00Z'), 2);
const C = sessionIdAt(new Date('2026-11-02T08:00:00Z'), 3);

const MERGED = `SELECT toString(session_id) AS session_id, min(start) AS start, max(end) AS end,
    sum(pageviews) AS pageviews, sum(events) AS events,
    argMinMerge(entry_page) AS entry_page, argMaxMerge(exit_page) AS exit_page,
    {country} AS country
  FROM {table:Identifier} WHERE site_id = {site:UUID} GROUP BY session_id ORDER BY session_id`;

/** A folder holding the migrations before `first` only: the database as an older version left it. */
async function migrationsBefore(first: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tidemark-migrations-'));
  for (const file of await readdir(CLICKHOUSE_MIGRATIONS_DIR)) {
    if (file < first) await copyFile(join(CLICKHOUSE_MIGRATIONS_DIR, file), join(dir, file));
  }
  return dir;
}

describe('ClickHouse migrations: 004 moves sessions into sessions_v2, partitioned by month', () => {
  let config: ClickHouseConfig;
  let ch: ClickHouse;
  let upTo003: string;
  let upTo004: string;
  let upTo009: string;

  const insert = (rows: [session: string, at: string, name: string, path: string, country: string][]) =>
    ch.insert({
      table: 'events',
      format: 'JSONEachRow',
      values: rows.map(([session_id, at, name, pathname, country]) => ({
        event_id: randomUUID(),
        site_id: SITE,
        timestamp: at.replace('T', ' ').replace('Z', ''),
        name,
        visitor_id: '7',
        session_id,
        pathname,
        country,
      })),
    });
  // 004 keeps country as a plain value merged with `any`, where `sessions` kept an argMin state.
  const merged = async (table: 'sessions' | 'sessions_v2') =>
    (
      await ch.query({
        query: MERGED.replace('{country}', table === 'sessions' ? 'argMinMerge(country)' : 'any(country)'),
        query_params: { table, site: SITE },
        format: 'JSONEachRow',
      })
    ).json();
  const tables = async () =>
    (await (await ch.query({ query: 'SHOW TABLES', format: 'JSONEachRow' })).json<{ name: string }>()).map(
      (r) => r.name,
    );

  beforeAll(async () => {
    config = { url: stackEnv().CLICKHOUSE_URL, database: `t_${uniqueSuffix()}` };
    ch = createClickHouse({ ...config, requestTimeoutMs: 60_000 });
    upTo003 = await migrationsBefore('004');
    upTo004 = await migrationsBefore('005');
    upTo009 = await migrationsBefore('010');
  });

  afterAll(async () => {
    await ch?.close();
    for (const dir of [upTo003, upTo004, upTo009]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('copies every visit exactly, even when run again after an interruption, and moves the view', async () => {
    expect(await migrateClickHouse(config, { rawRetentionDays: 36_500, dir: upTo003 })).toEqual([
      '001_events.sql',
      '002_sessions.sql',
      '003_rollups.sql',
    ]);
    await insert([
      [A, '2026-09-30T23:50:00Z', 'pageview', '/a1', 'DE'],
      [B, '2026-10-15T12:00:00Z', 'pageview', '/b1', 'FR'],
    ]);
    await insert([
      [A, '2026-10-01T00:05:00Z', 'pageview', '/a2', 'DE'],
      [B, '2026-10-15T12:01:00Z', 'signup', '/b1', 'FR'],
      [C, '2026-11-02T08:00:00Z', 'pageview', '/c1', 'US'],
    ]);
    const before = await merged('sessions');
    expect(before).toHaveLength(3);

    // The first try of 004 ran every statement but died before recording it: the next start runs
    // it again, with the old table still there (005 drops it only once 004 is recorded).
    expect(await migrateClickHouse(config, { rawRetentionDays: 36_500, dir: upTo004 })).toEqual([
      '004_sessions_by_month.sql',
    ]);
    await ch.command({
      query: "ALTER TABLE schema_migrations DELETE WHERE version >= '004' SETTINGS mutations_sync = 2",
    });
    // Up to 009: 010 moves the view on to sessions_v3 (tested below).
    expect((await migrateClickHouse(config, { rawRetentionDays: 36_500, dir: upTo009 })).slice(0, 2)).toEqual(
      ['004_sessions_by_month.sql', '005_drop_sessions_v1.sql'],
    );

    expect(await merged('sessions_v2')).toEqual(before);
    const names = await tables();
    expect(names).toContain('sessions_v2_mv_v1');
    expect(names).not.toContain('sessions');
    expect(names).not.toContain('sessions_mv_v1');
    const partitions = await (
      await ch.query({
        query: `SELECT DISTINCT partition FROM system.parts
                WHERE database = currentDatabase() AND table = 'sessions_v2' AND active ORDER BY partition`,
        format: 'JSONEachRow',
      })
    ).json<{ partition: string }>();
    // Visit A's partial rows carry its start month (September) though one event is in October.
    expect(partitions.map((p) => p.partition)).toEqual(['202609', '202610', '202611']);

    await insert([[C, '2026-11-02T08:03:00Z', 'pageview', '/c2', 'US']]);
    const after = await merged('sessions_v2');
    expect(after.at(-1)).toMatchObject({ session_id: C, pageviews: 2, exit_page: '/c2' });
  });
});

describe('ClickHouse migrations: 010 moves sessions_v2 into sessions_v3, first and last values as tuples', () => {
  let config: ClickHouseConfig;
  let ch: ClickHouse;
  let upTo009: string;
  /** The raw events are the reference here: a longer TTL would overflow its DateTime and drop them. */
  const RAW_DAYS = 3650;

  /** Event ids ordered by their first digit (ClickHouse compares a UUID's last 8 bytes before its first 8). */
  const id = (n: number) => `${n}0000000-0000-4000-8000-000000000000`;
  const P = sessionIdAt(new Date('2026-10-15T12:00:00Z'), 11);
  const N = sessionIdAt(new Date('2026-11-02T08:00:00Z'), 12);
  const M = sessionIdAt(new Date('2026-09-30T23:59:59Z'), 13);
  const Q = sessionIdAt(new Date('2026-11-20T10:00:00Z'), 14);

  /** One insert block; a session's blocks below are stored out of their events' order. */
  const insert = (
    rows: [session: string, at: string, name: string, path: string, channel: string, n: number][],
  ) =>
    ch.insert({
      table: 'events',
      format: 'JSONEachRow',
      values: rows.map(([session_id, at, name, pathname, channel, n]) => ({
        event_id: id(n),
        site_id: SITE,
        timestamp: at,
        name,
        visitor_id: '7',
        session_id,
        pathname,
        channel,
        utm_source: `${channel.toLowerCase()}-source`,
        referrer_domain: `${channel.toLowerCase()}.example`,
        country: 'DE',
      })),
    });
  const rows = async <T>(query: string) =>
    (await ch.query({ query, query_params: { site_id: SITE }, format: 'JSONEachRow' })).json<T>();
  /** One row per visit; the id as text, which JSON numbers would round. */
  const visits = <T = MergedSession>(query: string) =>
    rows<T>(`SELECT * REPLACE (toString(session_id) AS session_id) FROM (${query}) ORDER BY session_id`);

  /** The visits as sessions_v2's readers merged them. */
  const fromV2 = () =>
    visits(`SELECT session_id, any(visitor_id) AS visitor_id, min(start) AS start,
         max(end) AS end, sum(pageviews) AS pageviews, sum(events) AS events,
         argMinMerge(entry_page) AS entry_page, argMaxMerge(exit_page) AS exit_page,
         ${SESSION_FIRST_VALUES.map((c) => `argMinMerge(${c}) AS ${c}`).join(', ')},
         ${SESSION_VISITOR_VALUES.map((c) => `any(${c}) AS ${c}`).join(', ')}
       FROM sessions_v2 WHERE site_id = {site_id:UUID} GROUP BY session_id`);
  /** The visits as sessions_v3's readers merge them, partial rows aggregated again. */
  const fromV3 = () => visits(mergedSessionsSql());
  /** The same attributes as the stats read them: sessions_v3 with FINAL. */
  const fromV3Final = () =>
    visits<Record<string, string>>(`SELECT session_id, entry_page.3 AS entry_page, exit_page.3 AS exit_page,
         channel.3 AS channel FROM sessions_v3 FINAL WHERE site_id = {site_id:UUID}`);
  /** The visits recomputed from raw events with the views' definitions (argMin/argMax over (timestamp, event_id)). */
  const fromRaw = () =>
    visits(`SELECT session_id, any(visitor_id) AS visitor_id, min(timestamp) AS start,
         max(timestamp) AS end, countIf(name = 'pageview') AS pageviews, count() AS events,
         argMinIf(pathname, (timestamp, event_id), name = 'pageview') AS entry_page,
         argMaxIf(pathname, (timestamp, event_id), name = 'pageview') AS exit_page,
         ${SESSION_FIRST_VALUES.map((c) => `argMin(toString(${c}), (timestamp, event_id)) AS ${c}`).join(', ')},
         ${SESSION_VISITOR_VALUES.map((c) => `any(toString(${c})) AS ${c}`).join(', ')}
       FROM events WHERE site_id = {site_id:UUID} GROUP BY session_id`);
  const visit = async (session: string) => (await fromV3()).find((v) => v.session_id === session);

  beforeAll(async () => {
    config = { url: stackEnv().CLICKHOUSE_URL, database: `t_${uniqueSuffix()}` };
    ch = createClickHouse({ ...config, requestTimeoutMs: 60_000 });
    upTo009 = await migrationsBefore('010');
  });

  afterAll(async () => {
    await ch?.close();
    if (upTo009) await rm(upTo009, { recursive: true, force: true });
  });

  it('copies every visit exactly, and visits going on after it merge as argMin/argMax would', async () => {
    await migrateClickHouse(config, { rawRetentionDays: RAW_DAYS, dir: upTo009 });
    // P: its last pageview first, then its first event and two pageviews of one millisecond.
    // N: no pageview. M: a first partial row without a pageview, then one with.
    await insert([
      [P, '2026-10-15 12:00:05.000', 'pageview', '/p-last', 'Referral', 5],
      [N, '2026-11-02 08:00:00.000', 'download', '/n', 'Direct', 1],
      [M, '2026-09-30 23:59:59.000', 'signup', '/m0', 'Email', 1],
    ]);
    await insert([
      [P, '2026-10-15 12:00:00.000', 'signup', '/p0', 'Direct', 4],
      [P, '2026-10-15 12:00:01.000', 'pageview', '/p-tie-3', 'Search', 3],
      [N, '2026-11-02 08:00:03.000', 'download', '/n', 'Social', 2],
    ]);
    await insert([
      [P, '2026-10-15 12:00:01.000', 'pageview', '/p-tie-2', 'Search', 2],
      [M, '2026-10-01 00:00:02.000', 'pageview', '/m1', 'Social', 2],
    ]);
    const before = await fromV2();
    expect(before).toEqual(await fromRaw());
    // A build of each kind, as the worker of the release before left them.
    for (const kind of ['sessions_month', 'visit_attributes_month', 'site_month', 'dimension_month']) {
      await ch.insert({
        table: 'summary_builds',
        format: 'JSONEachRow',
        values: [
          { build_id: randomUUID(), kind, month: '202609', partitions: ['202609'], parts: ['202609_1_1_0'] },
        ],
      });
    }
    await ch.insert({
      table: 'sessions_summary',
      format: 'JSONEachRow',
      values: [
        { build_id: randomUUID(), site_id: SITE, from_day: 0, bucket: '2026-09-30 23:45:00', visits: '1' },
      ],
    });
    expect(before.map((v) => [v.entry_page, v.exit_page, v.channel])).toEqual([
      ['/m1', '/m1', 'Email'],
      ['/p-tie-2', '/p-last', 'Direct'],
      ['', '', 'Direct'],
    ]);

    expect(await migrateClickHouse(config, { rawRetentionDays: RAW_DAYS })).toEqual([
      '010_sessions_min_tuples.sql',
      '011_drop_sessions_v2.sql',
      '012_dimension_days.sql',
    ]);
    expect(await fromV3()).toEqual(before);
    expect(await fromV3Final()).toEqual(
      before.map((v) => ({
        session_id: v.session_id,
        entry_page: v.entry_page,
        exit_page: v.exit_page,
        channel: v.channel,
      })),
    );
    const tables = (await rows<{ name: string }>('SHOW TABLES')).map((r) => r.name);
    expect(tables).toContain('sessions_v3_mv_v1');
    expect(tables).not.toContain('sessions_v2');
    expect(tables).not.toContain('sessions_v2_mv_v1');
    // Builds of sessions_v2's parts are forgotten, with their rows, and so are the dimension day
    // states that day totals replace; the others stay.
    expect(await rows<{ kind: string }>('SELECT kind FROM summary_builds')).toEqual([{ kind: 'site_month' }]);
    expect(await rows('SELECT * FROM sessions_summary')).toEqual([]);

    // After the copy, P gets an event of its first millisecond with a smaller id (the first values'
    // new winner), a pageview between its start and its first pageview (the new entry page) and one
    // of its last pageview's millisecond with a larger id (the new exit page): only the copied
    // events' own (timestamp, event_id) order them so.
    await insert([
      [P, '2026-10-15 12:00:05.000', 'pageview', '/p-last-8', 'Referral', 8],
      [P, '2026-10-15 12:00:00.500', 'pageview', '/p-entry', 'Referral', 6],
      [P, '2026-10-15 12:00:00.000', 'signup', '/p0', 'Search', 1],
      [N, '2026-11-02 08:00:04.000', 'download', '/n', 'Direct', 3],
      [M, '2026-10-01 00:00:03.000', 'signup', '/m2', 'Direct', 3],
    ]);
    expect(await fromV3()).toEqual(await fromRaw());
    expect(await visit(P)).toMatchObject({
      entry_page: '/p-entry',
      exit_page: '/p-last-8',
      channel: 'Search',
      utm_source: 'search-source',
      referrer_domain: 'search.example',
      pageviews: 5,
      events: 7,
    });
    expect(await visit(M)).toMatchObject({ entry_page: '/m1', exit_page: '/m1', channel: 'Email' });
    // A visit without any pageview reads '' as argMinMerge of an empty state did.
    expect(await visit(N)).toMatchObject({
      entry_page: '',
      exit_page: '',
      channel: 'Direct',
      pageviews: 0,
    });
  });

  it('keeps the earliest event by (timestamp, event_id) across blocks stored out of order', async () => {
    await migrateClickHouse(config, { rawRetentionDays: RAW_DAYS });
    await insert([[Q, '2026-11-20 10:00:02.000', 'pageview', '/q-last-3', 'Email', 3]]);
    await insert([
      [Q, '2026-11-20 10:00:01.000', 'pageview', '/q-first-4', 'Email', 4],
      [Q, '2026-11-20 10:00:01.000', 'pageview', '/q-first-2', 'Search', 2],
    ]);
    await insert([
      [Q, '2026-11-20 10:00:01.000', 'pageview', '/q-first-1', 'Social', 1],
      [Q, '2026-11-20 10:00:02.000', 'pageview', '/q-last-9', 'Email', 9],
    ]);
    await insert([[Q, '2026-11-20 10:00:01.500', 'custom', '/q-custom', 'Direct', 5]]);
    expect(await visit(Q)).toMatchObject({
      start: '2026-11-20T10:00:01.000Z',
      end: '2026-11-20T10:00:02.000Z',
      entry_page: '/q-first-1',
      exit_page: '/q-last-9',
      channel: 'Social',
      pageviews: 5,
    });
    expect(await visit(Q)).toEqual((await fromRaw()).find((v) => v.session_id === Q));
    expect((await fromV3Final()).find((v) => v.session_id === Q)).toMatchObject({
      entry_page: '/q-first-1',
      exit_page: '/q-last-9',
      channel: 'Social',
    });
  });
});
