import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import { expect } from 'vitest';
import {
  mergedSessionsSql,
  ROLLUP_DIMENSIONS,
  ROLLUP_DIMENSIONS_TABLE,
  ROLLUP_LOCATIONS_TABLE,
  ROLLUP_SITE_TABLE,
  SESSION_FIRST_VALUES,
  SESSION_VISITOR_VALUES,
  SESSIONS_TABLE,
  type ClickHouse,
  type MergedSession,
  type RollupDimension,
} from '@tidemark/clickhouse';
import { eventMessageKey, sessionIdAt, type EnrichedEventV1 } from '@tidemark/events';
import { REPO_ROOT } from '../../../infra/local/src/stack';
import { stackEnv, uniqueSuffix, waitFor } from '../../../test/support/stack';

/** Test helpers for the consumer's integration suites: events, Kafka, consumer processes, checks. */

const pick = <T>(values: readonly T[], i: number) => values[i % values.length] as T;
const randomU64 = () => randomBytes(8).readBigUInt64BE().toString();

const PAGES = ['/', '/pricing', '/blog/a', '/blog/b', '/docs', '/signup'];
const SOURCES = [
  { referrer: '', referrer_domain: '', channel: 'Direct', utm_source: '', utm_campaign: '' },
  {
    referrer: 'https://www.google.com/',
    referrer_domain: 'google.com',
    channel: 'Organic Search',
    utm_source: '',
    utm_campaign: '',
  },
  {
    referrer: 'https://news.ycombinator.com/',
    referrer_domain: 'news.ycombinator.com',
    channel: 'Referral',
    utm_source: 'hn',
    utm_campaign: 'launch',
  },
];
const PLACES = [
  { country: 'NP', region: 'NP-BA', city: 'Kathmandu' },
  { country: 'IN', region: 'IN-MH', city: 'Mumbai' },
  { country: 'US', region: 'US-IL', city: 'Springfield' },
  { country: 'US', region: 'US-MA', city: 'Springfield' },
  { country: '', region: '', city: '' },
];
const AGENTS = [
  { device: 'Desktop', browser: 'Firefox', os: 'Linux' },
  { device: 'Mobile', browser: 'Safari', os: 'iOS' },
  { device: 'Tablet', browser: 'Chrome', os: 'Android' },
];

export interface GeneratedSite {
  siteId: string;
  /** `waves[k]` holds the k-th event of every session, so a session's events land in several batches. */
  waves: EnrichedEventV1[][];
  events: EnrichedEventV1[];
}

/**
 * `sessions` visits of `eventsPerSession` events each, starting shortly before a UTC midnight so
 * visits cross 15-minute buckets and days. Session-level
 * values (referrer, channel, utm) are on the first event only, as for a real multi-page visit;
 * some events share a millisecond with the previous one of the session.
 */
export function generateSite(
  sessions: number,
  eventsPerSession: number,
  /** `random`: any 64-bit session ids, i.e. months anywhere in 1970-2106 (ingest never makes those). */
  sessionIds: 'ingest' | 'random' = 'ingest',
): GeneratedSite {
  // Recent enough for raw retention (TTL) to keep the rows: 20 minutes before the UTC midnight two days ago.
  const start = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 2 * 86_400_000 - 20 * 60_000;
  const siteId = randomUUID();
  const waves: EnrichedEventV1[][] = Array.from({ length: eventsPerSession }, () => []);
  for (let s = 0; s < sessions; s++) {
    const visitorId = randomU64();
    let at = start + (s % 97) * 17_000;
    const sessionId =
      sessionIds === 'random' ? randomU64() : sessionIdAt(new Date(at), randomBytes(4).readUInt32BE());
    const source = pick(SOURCES, s);
    const place = pick(PLACES, s * 7);
    const agent = pick(AGENTS, s * 5);
    for (let i = 0; i < eventsPerSession; i++) {
      if (i > 0 && (s + i) % 5 !== 0) at += 1_000 + ((s * 31 + i * 17) % 600) * 1_000;
      const kind = (s + i) % 9 === 4 ? 'signup' : (s + i) % 11 === 7 ? 'Outbound Link: Click' : 'pageview';
      const first = i === 0;
      (waves[i] as EnrichedEventV1[]).push({
        v: 1,
        event_id: randomUUID(),
        site_id: siteId,
        timestamp: new Date(at).toISOString(),
        name: kind,
        visitor_id: visitorId,
        session_id: sessionId,
        hostname: (s + i) % 4 === 0 ? 'docs.example.com' : 'example.com',
        pathname: pick(PAGES, s * 3 + i),
        referrer: first ? source.referrer : '',
        referrer_domain: first ? source.referrer_domain : '',
        channel: first ? source.channel : 'Direct',
        utm_source: first ? source.utm_source : '',
        utm_medium: '',
        utm_campaign: first ? source.utm_campaign : '',
        utm_content: '',
        utm_term: '',
        ...place,
        ...agent,
        browser_version: '1',
        os_version: '1',
        screen_width: 1280,
        props: kind === 'signup' ? { plan: pick(['free', 'pro'], s) } : {},
        revenue_amount: kind === 'signup' ? 9.99 : null,
        revenue_currency: kind === 'signup' ? 'EUR' : '',
        engagement_time_ms: 0,
        scroll_pct: 0,
        click_x: null,
        click_y: null,
        link_url: kind === 'Outbound Link: Click' ? `https://partner-${s % 3}.example.org/` : '',
      });
    }
  }
  return { siteId, waves, events: waves.flat() };
}

export function testKafka(): Kafka {
  return new Kafka({
    clientId: 'consumer-int-test',
    brokers: stackEnv().KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
}

/** Topic and group names of one suite, so suites sharing the broker never see each other's messages. */
export function suiteNames() {
  const suffix = uniqueSuffix();
  return {
    topic: `consumer-it.events.${suffix}`,
    dlqTopic: `consumer-it.dlq.${suffix}`,
    groupId: `consumer-it-${suffix}`,
  };
}

export async function produce(
  kafka: Kafka,
  topic: string,
  messages: Array<EnrichedEventV1 | { key: string; value: string }>,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 500) {
      await producer.send({
        topic,
        acks: -1,
        messages: messages
          .slice(i, i + 500)
          .map((m) => ('value' in m ? m : { key: eventMessageKey(m), value: JSON.stringify(m) })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface ConsumerProcess {
  child: ChildProcess;
  /** Resolves with the first log record (JSON line) matching, including ones already logged. */
  waitForLog(match: (record: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>;
  logs(): LogRecord[];
  /** Sends the signal and resolves once the process has exited. */
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

export type LogRecord = Record<string, unknown> & { msg?: string };

/** Starts `services/consumer/src/main.ts` as its own process, as production runs it. */
export function spawnConsumer(env: Record<string, string>): ConsumerProcess {
  const stack = stackEnv();
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/consumer/src/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'debug',
      KAFKA_BROKERS: stack.KAFKA_BROKERS,
      CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
      DATABASE_URL: stack.DATABASE_URL,
      REDIS_URL: stack.REDIS_URL,
      REDIS_PREFIX: `${stack.REDIS_PREFIX}-c${uniqueSuffix()}`,
      PORT: '0',
      TOPIC_PARTITIONS: '3',
      BATCH_MAX_WAIT_MS: '200',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const records: LogRecord[] = [];
  const waiters = new Set<{ match: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }>();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let record: LogRecord;
    try {
      record = JSON.parse(line) as LogRecord;
    } catch {
      return;
    }
    records.push(record);
    for (const waiter of waiters) {
      if (waiter.match(record)) {
        waiters.delete(waiter);
        waiter.resolve(record);
      }
    }
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  return {
    child,
    logs: () => records,
    waitForLog: (match, timeoutMs = 60_000) => {
      const seen = records.find(match);
      if (seen) return Promise.resolve(seen);
      const failure = (why: string) =>
        new Error(`consumer ${child.pid} ${why}; stderr: ${stderr.join('').slice(-2000)}`);
      let timer: NodeJS.Timeout | undefined;
      const waiter = { match, resolve: (_: LogRecord) => {} };
      return new Promise<LogRecord>((resolve, reject) => {
        waiter.resolve = resolve;
        waiters.add(waiter);
        timer = setTimeout(() => reject(failure('did not log the expected record')), timeoutMs);
        void exited.then((code) => reject(failure(`exited (${code}) first`)));
      }).finally(() => {
        clearTimeout(timer);
        waiters.delete(waiter);
      });
    },
    stop: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function queryRows<T>(client: ClickHouse, query: string, siteId: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow', query_params: { site_id: siteId } });
  return result.json<T>();
}

export async function countEvents(client: ClickHouse, siteId: string) {
  const [row] = await queryRows<{ rows: string; ids: string }>(
    client,
    'SELECT count() AS rows, uniqExact(event_id) AS ids FROM events WHERE site_id = {site_id:UUID}',
    siteId,
  );
  return { rows: Number(row?.rows), ids: Number(row?.ids) };
}

/** Polls until `events` holds at least `expected` rows for the site, then requires exactly that many. */
export async function waitForEvents(client: ClickHouse, siteId: string, expected: number, timeout = 90_000) {
  const rows = await waitFor(
    async () => {
      const { rows } = await countEvents(client, siteId);
      return rows >= expected ? rows : undefined;
    },
    { timeout, interval: 250, message: `${expected} events in ClickHouse` },
  );
  expect(rows, 'rows in events').toBe(expected);
}

/**
 * Every rollup equals the same aggregate recomputed from raw events: per bucket, per local day in
 * +05:45 and +05:30 zones and across a DST change, per dimension value and per location.
 */
export async function expectRollupsMatchRaw(client: ClickHouse, siteId: string) {
  const site = (from: string) => `site_id = {site_id:UUID}${from}`;
  const compare = async (rollup: string, raw: string) => {
    const [a, b] = await Promise.all([queryRows(client, rollup, siteId), queryRows(client, raw, siteId)]);
    expect(a.length).toBeGreaterThan(0);
    expect(a).toEqual(b);
  };
  await compare(
    `SELECT bucket, uniqMerge(visitors) AS visitors, sum(pageviews) AS pageviews, sum(events) AS events
     FROM ${ROLLUP_SITE_TABLE} WHERE ${site('')} GROUP BY bucket ORDER BY bucket`,
    `SELECT toStartOfFifteenMinutes(timestamp) AS bucket, uniq(visitor_id) AS visitors,
            countIf(name = 'pageview') AS pageviews, count() AS events
     FROM events WHERE ${site('')} GROUP BY bucket ORDER BY bucket`,
  );
  for (const zone of ['Asia/Kathmandu', 'Asia/Kolkata', 'Europe/Berlin', 'America/St_Johns']) {
    await compare(
      `SELECT toDate(bucket, '${zone}') AS day, uniqMerge(visitors) AS visitors, sum(pageviews) AS pageviews
       FROM ${ROLLUP_SITE_TABLE} WHERE ${site('')} GROUP BY day ORDER BY day`,
      `SELECT toDate(timestamp, '${zone}') AS day, uniq(visitor_id) AS visitors, countIf(name = 'pageview') AS pageviews
       FROM events WHERE ${site('')} GROUP BY day ORDER BY day`,
    );
  }
  const dimensions: Record<RollupDimension, { value: string; where: string }> = {
    page: { value: 'pathname', where: "name = 'pageview'" },
    hostname: { value: 'toString(hostname)', where: '1' },
    event: { value: 'toString(name)', where: '1' },
    exit_link: { value: 'link_url', where: "link_url != ''" },
    device: { value: 'toString(device)', where: '1' },
    browser: { value: 'toString(browser)', where: '1' },
    os: { value: 'toString(os)', where: '1' },
  };
  expect(Object.keys(dimensions).sort()).toEqual(Object.keys(ROLLUP_DIMENSIONS).sort());
  for (const [dimension, { value, where }] of Object.entries(dimensions)) {
    await compare(
      `SELECT toDate(bucket, 'Asia/Kathmandu') AS day, value, uniqMerge(visitors) AS visitors,
              sum(pageviews) AS pageviews, sum(events) AS events
       FROM ${ROLLUP_DIMENSIONS_TABLE} WHERE ${site(` AND dimension = '${dimension}'`)}
       GROUP BY day, value ORDER BY day, value`,
      `SELECT toDate(timestamp, 'Asia/Kathmandu') AS day, ${value} AS value, uniq(visitor_id) AS visitors,
              countIf(name = 'pageview') AS pageviews, count() AS events
       FROM events WHERE ${site(` AND ${where}`)} GROUP BY day, value ORDER BY day, value`,
    );
  }
  await compare(
    `SELECT country, region, city, uniqMerge(visitors) AS visitors, sum(pageviews) AS pageviews, sum(events) AS events
     FROM ${ROLLUP_LOCATIONS_TABLE} WHERE ${site('')} GROUP BY country, region, city ORDER BY country, region, city`,
    `SELECT country, region, city, uniq(visitor_id) AS visitors, countIf(name = 'pageview') AS pageviews, count() AS events
     FROM events WHERE ${site('')} GROUP BY country, region, city ORDER BY country, region, city`,
  );
}

/** Merged sessions equal the sessions recomputed from raw events, and so do bounces and durations. */
export async function expectSessionsMatchRaw(client: ClickHouse, siteId: string, expectedSessions: number) {
  const fromSessions = await queryRows<MergedSession>(
    client,
    `SELECT * FROM (${mergedSessionsSql()}) ORDER BY session_id`,
    siteId,
  );
  const fromRaw = await queryRows<MergedSession>(
    client,
    `SELECT
       session_id,
       any(visitor_id) AS visitor_id,
       min(timestamp) AS start,
       max(timestamp) AS end,
       countIf(name = 'pageview') AS pageviews,
       count() AS events,
       argMinIf(pathname, (timestamp, event_id), name = 'pageview') AS entry_page,
       argMaxIf(pathname, (timestamp, event_id), name = 'pageview') AS exit_page,
       ${[...SESSION_FIRST_VALUES, ...SESSION_VISITOR_VALUES].map((c) => `argMin(toString(${c}), (timestamp, event_id)) AS ${c}`).join(',\n       ')}
     FROM events WHERE site_id = {site_id:UUID}
     GROUP BY session_id ORDER BY session_id`,
    siteId,
  );
  expect(fromSessions).toHaveLength(expectedSessions);
  expect(fromSessions).toEqual(fromRaw);

  const metrics = `count() AS visits, countIf(pageviews = 1) AS bounces,
                   sum(dateDiff('second', start, end)) AS duration, sum(pageviews) AS total_pageviews`;
  const [a, b] = await Promise.all([
    queryRows(client, `SELECT ${metrics} FROM (${mergedSessionsSql()})`, siteId),
    queryRows(
      client,
      `SELECT ${metrics} FROM (SELECT session_id, min(timestamp) AS start, max(timestamp) AS end,
         countIf(name = 'pageview') AS pageviews FROM events WHERE site_id = {site_id:UUID} GROUP BY session_id)`,
      siteId,
    ),
  ]);
  expect(a).toEqual(b);
}

/** Rows of `sessions` before merging: more than one per session proves visits spanned batches. */
export async function partialSessionRows(client: ClickHouse, siteId: string) {
  const [row] = await queryRows<{ rows: string }>(
    client,
    `SELECT count() AS rows FROM ${SESSIONS_TABLE} WHERE site_id = {site_id:UUID}`,
    siteId,
  );
  return Number(row?.rows);
}
