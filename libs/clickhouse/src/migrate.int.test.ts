import { randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionIdAt } from '@tidemark/events';
import { stackEnv, uniqueSuffix } from '../../../test/support/stack';
import { createClickHouse, type ClickHouse, type ClickHouseConfig } from './client';
import { CLICKHOUSE_MIGRATIONS_DIR, migrateClickHouse } from './migrate';

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

describe('ClickHouse migrations: 004 moves sessions into sessions_v2, partitioned by month', () => {
  let config: ClickHouseConfig;
  let ch: ClickHouse;
  let upTo003: string;
  let upTo004: string;

  /** A folder holding the migrations before `first` only: the database as an older version left it. */
  const migrationsBefore = async (first: string) => {
    const dir = await mkdtemp(join(tmpdir(), 'tidemark-migrations-'));
    for (const file of await readdir(CLICKHOUSE_MIGRATIONS_DIR)) {
      if (file < first) await copyFile(join(CLICKHOUSE_MIGRATIONS_DIR, file), join(dir, file));
    }
    return dir;
  };

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
  });

  afterAll(async () => {
    await ch?.close();
    for (const dir of [upTo003, upTo004]) if (dir) await rm(dir, { recursive: true, force: true });
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
    expect((await migrateClickHouse(config, { rawRetentionDays: 36_500 })).slice(0, 2)).toEqual([
      '004_sessions_by_month.sql',
      '005_drop_sessions_v1.sql',
    ]);

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
