import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshClickHouse } from '../../../../test/support/stack';
import { createClickHouse, type ClickHouse } from '../client';
import {
  EVENTS_INGEST_TABLE,
  EVENTS_TABLE,
  EVENT_COLUMNS,
  insertEvents,
  type EventInsertTable,
  type EventRow,
} from './events.table';

const SITE = '0b6f7f0e-5a3c-4f57-9d0a-2d1e3c4b5a69';

/** An event with a value other than the column's default in every column. */
const fullEvent = (over: Partial<EventRow> = {}): EventRow => ({
  event_id: randomUUID(),
  site_id: SITE,
  // Within raw retention whenever the test runs.
  timestamp: new Date(Date.now() - 3_600_000).toISOString(),
  name: 'Signup',
  visitor_id: '18446744073709551615',
  session_id: '8286551420829466625',
  hostname: 'shop.example.com',
  pathname: '/checkout/done',
  referrer: 'https://news.example.org/a?b=c',
  referrer_domain: 'news.example.org',
  channel: 'Referral',
  utm_source: 'newsletter',
  utm_medium: 'email',
  utm_campaign: 'november',
  utm_content: 'hero',
  utm_term: 'shoes',
  country: 'NP',
  region: 'NP-BA',
  city: 'Kathmandu',
  device: 'Tablet',
  browser: 'Firefox',
  browser_version: '132',
  os: 'Android',
  os_version: '14',
  screen_width: 1024,
  props: { plan: 'pro', seats: '12' },
  revenue_amount: 1234.5678,
  revenue_currency: 'EUR',
  engagement_time_ms: 4200,
  scroll_pct: 87.5,
  click_x: 0.25,
  click_y: 0.75,
  link_url: 'https://partner.example.net/',
  ...over,
});

describe('events_ingest (migration 009): the consumer inserts events through a String-typed Null table', () => {
  let ch: ClickHouse;
  let database: string;

  const rows = async <T>(query: string, params: Record<string, unknown> = {}) =>
    (await ch.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();

  /** What each table holds of the site: raw rows, sessions' events and each rollup's events. */
  const totals = async () =>
    (
      await rows<Record<string, string>>(
        `SELECT
           (SELECT count() FROM events WHERE site_id = {site:UUID}) AS events,
           (SELECT sum(events) FROM sessions_v3 WHERE site_id = {site:UUID}) AS sessions,
           (SELECT sum(events) FROM rollup_site_per_15m WHERE site_id = {site:UUID}) AS site_rollup,
           (SELECT sum(events) FROM rollup_locations_per_15m WHERE site_id = {site:UUID}) AS locations,
           (SELECT sum(events) FROM rollup_dimensions_per_15m
              WHERE site_id = {site:UUID} AND dimension = 'event') AS dimensions`,
        { site: SITE },
      )
    )[0];

  beforeAll(async () => {
    const config = await freshClickHouse();
    database = config.database;
    ch = createClickHouse({ ...config, requestTimeoutMs: 60_000 });
  });

  afterAll(async () => {
    await ch?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await ch?.close();
  });

  it('has the columns of events in their order, each LowCardinality as its inner type', async () => {
    const columns = (table: string) =>
      rows<{ name: string; type: string }>(
        `SELECT name, type FROM system.columns
         WHERE database = currentDatabase() AND table = {table:String} ORDER BY position`,
        { table },
      );
    const plain = (type: string) => type.replaceAll(/LowCardinality\((\w+)\)/g, '$1');
    const events = await columns(EVENTS_TABLE);
    expect(events.some((c) => c.type.includes('LowCardinality'))).toBe(true);
    expect(await columns(EVENTS_INGEST_TABLE)).toEqual(events.map((c) => ({ ...c, type: plain(c.type) })));
  });

  it('stores every column as an insert straight into events does', async () => {
    // One timestamp for both: two calls of Date.now() can fall in different milliseconds.
    const timestamp = new Date(Date.now() - 3_600_000).toISOString();
    const [viaIngest, direct] = [fullEvent({ timestamp }), fullEvent({ timestamp })];
    await insertEvents(ch, [viaIngest], { dedupToken: `t:${randomUUID()}` });
    await insertEvents(ch, [direct], { dedupToken: `t:${randomUUID()}`, table: EVENTS_TABLE });
    const stored = await rows<Record<string, unknown>>(
      'SELECT * EXCEPT event_id FROM events WHERE event_id IN {ids:Array(UUID)}',
      { ids: [viaIngest.event_id, direct.event_id] },
    );
    expect(stored).toHaveLength(2);
    expect(stored[0]).toEqual(stored[1]);
    expect(stored[0]).toMatchObject({ name: 'Signup', country: 'NP', props: { plan: 'pro', seats: '12' } });
    // A missing value is stored as the column's default on both paths.
    const sparse = { ...fullEvent(), utm_term: undefined, props: undefined } as unknown as EventRow;
    await insertEvents(ch, [sparse], { dedupToken: `t:${randomUUID()}` });
    expect(
      await rows('SELECT utm_term, props FROM events WHERE event_id = {id:UUID}', { id: sparse.event_id }),
    ).toEqual([{ utm_term: '', props: {} }]);
  });

  it('stores what ClickHouse reads from the same events as JSON text, binary edge values included', async () => {
    // RowBinary carries raw bytes: ids whose bytes include newlines and zeros, lengths past one
    // LEB128 byte, multi-byte text, decimals cut where ClickHouse cuts their text, Float32s.
    const recent = new Date(Date.now() - 3_600_000).toISOString();
    const events = [
      fullEvent({
        event_id: '0a0a0a0a-0000-4d0a-8a0a-0a000a0a0a0a',
        site_id: '0a0d0a00-0a0a-4a0a-9a0a-0d0a0a0a0a0a',
      }),
      fullEvent({ pathname: `/${'long-path/'.repeat(40)}`, city: 'Zürich', region: '東京都', props: {} }),
      fullEvent({ revenue_amount: 2.00019999, scroll_pct: 33.3, click_x: 0.1, click_y: 1 }),
      fullEvent({ revenue_amount: -1.23456, visitor_id: '0', session_id: '1' }),
      fullEvent({ revenue_amount: 1e-7, props: { [`k${'é'.repeat(70)}`]: 'v'.repeat(300) } }),
      fullEvent({ revenue_amount: 99999999999999.99, click_x: null, click_y: null }),
      fullEvent({
        revenue_amount: null,
        revenue_currency: '',
        timestamp: recent.replace(/\.\d+Z$/, '.987Z'),
      }),
    ];
    await ch.command({ query: 'CREATE TABLE text_events AS events_ingest ENGINE = Memory' });
    await ch.insert({
      table: 'text_events',
      columns: [...EVENT_COLUMNS],
      format: 'JSONCompactEachRow',
      values: events.map((e) =>
        EVENT_COLUMNS.map((c) => (c === 'timestamp' ? e.timestamp.slice(0, 23).replace('T', ' ') : e[c])),
      ),
    });
    await insertEvents(ch, events, { dedupToken: `t:${randomUUID()}` });
    const read = async (table: string) =>
      (
        await ch.query({
          query: `SELECT ${EVENT_COLUMNS.join(', ')} FROM ${table} WHERE event_id IN {ids:Array(UUID)} ORDER BY event_id`,
          query_params: { ids: events.map((e) => e.event_id) },
          format: 'JSONEachRow',
          // Every digit of a UInt64, which a JSON number would round.
          clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
        })
      ).json<Record<string, unknown>>();
    const binary = await read('events');
    expect(binary).toHaveLength(events.length);
    expect(binary).toEqual(await read('text_events'));
    expect(binary.find((r) => r.event_id === events[0]!.event_id)).toMatchObject({
      site_id: events[0]!.site_id,
      visitor_id: '18446744073709551615',
    });
    expect(binary.map((r) => r.revenue_amount).sort()).toEqual(
      [-1.2345, 0, 1234.5678, 1234.5678, 2.0001, 99999999999999.98, null].sort(),
    );
  });

  it.each<EventInsertTable>([EVENTS_INGEST_TABLE, EVENTS_TABLE])(
    'stores a batch once per token into %s, in events, sessions and every rollup',
    async (table) => {
      const before = await totals();
      const batch = Array.from({ length: 50 }, (_, i) =>
        fullEvent({ name: i % 2 ? 'pageview' : 'Signup', session_id: String(1_000_000 + i) }),
      );
      const dedupToken = `events.v1:0:${randomUUID()}`;
      await insertEvents(ch, batch, { dedupToken, table });
      await insertEvents(ch, batch, { dedupToken, table });
      const after = await totals();
      for (const key of Object.keys(after!)) expect(Number(after![key]) - Number(before![key])).toBe(50);
    },
  );
});
