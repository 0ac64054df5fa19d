import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createClickHouse, type ClickHouse } from '@tidemark/clickhouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../infra/local/src/engines/ports';
import { stopPid } from '../../../infra/local/src/engines/process';
import { REPO_ROOT } from '../../../infra/local/src/stack';
import { freshClickHouse, freshPostgres, stackEnv, uniqueSuffix, waitFor } from '../../../test/support/stack';
import { call, expectError, JWT_SECRET } from './helpers';
import { qs, startStatsApi } from './stats-fixtures';

/*
 * A multi-million-row export through the real api process: the body streams from ClickHouse to a
 * slow client with the process's memory flat, and every row arrives. The same data then serves
 * the query timeout: a query over it cannot finish in 50 ms.
 */

const EVENTS = 2_000_000;
const DAY = 86_400_000;
/** The api's resident memory may grow this much over its idle size while it streams. */
const RSS_GROWTH_LIMIT_MB = 150;

let clickhouse: ClickHouse;
let clickhouseDatabase: string;
let databaseUrl: string;
let api: ChildProcess | undefined;
let origin: string;
let token: string;
let siteId: string;

async function json(
  method: string,
  path: string,
  body?: unknown,
  auth?: string,
): Promise<{ status: number; body: { data: { token?: string; id?: string } } }> {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(auth ? { authorization: `Bearer ${auth}` } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as { data: { token?: string; id?: string } } };
}

const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

beforeAll(async () => {
  const stack = stackEnv();
  const ch = await freshClickHouse();
  clickhouseDatabase = ch.database;
  databaseUrl = await freshPostgres();
  // The insert runs for a while on the embedded engine: wait for it rather than for the default 30 s.
  clickhouse = createClickHouse({
    url: stack.CLICKHOUSE_URL,
    database: clickhouseDatabase,
    requestTimeoutMs: 600_000,
  });
  const port = await freePort();
  const log = openSync(join(stack.STACK_DIR, `stats-export-api-${uniqueSuffix()}.log`), 'a');
  api = spawn(process.execPath, ['--import', 'tsx', 'services/api/src/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...stack,
      DATABASE_URL: databaseUrl,
      CLICKHOUSE_DATABASE: clickhouseDatabase,
      REDIS_PREFIX: `${stack.REDIS_PREFIX}:${uniqueSuffix()}`,
      JWT_SECRET,
      PORT: String(port),
      NODE_ENV: 'production',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', log, log],
  });
  origin = `http://127.0.0.1:${port}`;
  await waitFor(async () => ((await fetch(`${origin}/readyz`)).ok ? true : undefined), {
    timeout: 90_000,
    message: 'the api process to be ready',
  });

  const signup = await json('POST', '/api/v1/auth/signup', {
    email: `export-${uniqueSuffix()}@example.com`,
    password: 'a long enough password',
  });
  token = signup.body.data.token!;
  siteId = (
    await json(
      'POST',
      '/api/v1/sites',
      { domain: `export-${uniqueSuffix()}.example.com`, name: 'Export' },
      token,
    )
  ).body.data.id!;

  // Generated inside ClickHouse: events spread evenly over the last six days, visits of five events.
  const start = Date.now() - 6 * DAY;
  const began = Date.now();
  await clickhouse.command({
    query: `
      INSERT INTO events (event_id, site_id, timestamp, name, visitor_id, session_id, hostname, pathname,
                          referrer_domain, channel, country, device, browser, os, props)
      SELECT generateUUIDv4(number), {site:UUID}, ts,
             if(number % 5 = 4, 'signup', 'pageview'),
             number % 40000,
             bitOr(bitShiftLeft(toUInt64(intDiv(toUnixTimestamp64Milli(first), 1000)), 32), intDiv(number, 5) % 4294967296),
             'example.com', concat('/page/', toString(number % 50)),
             if(number % 3 = 0, 'google.com', ''), if(number % 3 = 0, 'Organic Search', 'Direct'),
             ['US', 'DE', 'NP'][number % 3 + 1], 'Desktop', 'Firefox', 'Linux',
             if(number % 5 = 4, map('plan', 'pro'), map())
      FROM (
        SELECT number,
               fromUnixTimestamp64Milli(toInt64({start:Int64} + intDiv(number * {span:Int64}, {n:Int64})), 'UTC') AS ts,
               fromUnixTimestamp64Milli(toInt64({start:Int64} + intDiv(intDiv(number, 5) * 5 * {span:Int64}, {n:Int64})), 'UTC') AS first
        FROM numbers({n:UInt64})
      )`,
    query_params: { site: siteId, start, span: 6 * DAY - 60_000, n: EVENTS },
    clickhouse_settings: { max_execution_time: 600 },
  });
  console.log(`stats export: inserted ${EVENTS} events in ${Math.round((Date.now() - began) / 1000)} s`);
}, 600_000);

afterAll(async () => {
  if (api?.pid) await stopPid(api.pid);
  await clickhouse?.close();
});

describe('export', () => {
  it(`streams ${EVENTS} events to a slow client with flat memory`, async () => {
    const pid = api!.pid!;
    const url = `${origin}/api/v1/stats/export?${qs({ site_id: siteId, type: 'events', format: 'csv', period: '7d' })}`;
    // Warm the process (code paths, sockets), then take its idle size.
    await (
      await fetch(url.replace('period=7d', 'period=today'), { headers: { authorization: `Bearer ${token}` } })
    ).text();
    const idle = rssMb(pid);
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 50);
    let newlines = 0;
    let bytes = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    try {
      await new Promise<void>((resolve, reject) => {
        const req = request(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
          headers = res.headers;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) newlines++;
            // A slow reader: a pause after every 4 MiB keeps the pipe full and backpressure on.
            if (bytes % (4 * 2 ** 20) < chunk.length) {
              res.pause();
              setTimeout(() => res.resume(), 25);
            }
          });
          res.on('end', resolve);
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
    } finally {
      clearInterval(sampler);
    }
    console.log(
      `stats export: ${newlines - 1} rows, ${Math.round(bytes / 2 ** 20)} MiB; api RSS idle ${Math.round(idle)} MB, peak ${Math.round(peak)} MB`,
    );
    expect(headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(headers['transfer-encoding']).toBe('chunked');
    expect(newlines - 1).toBe(EVENTS);
    expect(peak - idle).toBeLessThan(RSS_GROWTH_LIMIT_MB);
  }, 300_000);

  it('stops a query over its time limit: 503 unavailable with Retry-After', async () => {
    const impatient = await startStatsApi({
      DATABASE_URL: databaseUrl,
      CLICKHOUSE_DATABASE: clickhouseDatabase,
      STATS_QUERY_TIMEOUT_SECONDS: '0.05',
    });
    try {
      const res = await call(
        impatient.app,
        'GET',
        // Raw events read for the visits holding a matching event: far over 50 ms for 2 million.
        `/api/v1/stats/aggregate?${qs({ site_id: siteId, period: '7d', metrics: 'visits,bounce_rate', 'prop:plan': 'pro' })}`,
        { token },
      );
      const error = expectError(res, 503, 'unavailable');
      expect(error.message).toMatch(/took longer than 0.05 s/);
      expect(res.headers['retry-after']).toBe('30');
    } finally {
      await impatient.close();
    }
  });
});
