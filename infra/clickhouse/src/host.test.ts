/**
 * The host as services see it: a separate process spoken to only through @clickhouse/client.
 * One engine per process, so the file shares one host; the last tests stop it and start a second
 * one on the same data directory.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  ClickHouseError,
  ClickHouseLogLevel,
  createClient,
  type ClickHouseClient,
  type ClickHouseClientConfigOptions,
  type QueryParams,
  type Row,
} from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface HostProcess {
  url: string;
  child: ChildProcessByStdio<null, Readable, Readable>;
  exitCode: Promise<number | null>;
}

async function spawnHost(dataDir: string): Promise<HostProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: REPO_ROOT,
    env: { ...process.env, CLICKHOUSE_HOST_PORT: '0', CLICKHOUSE_HOST_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const ready = /clickhouse host listening on (\S+)/.exec(stdout);
      if (ready) resolve(ready[1]!);
    });
    child.once('exit', (code) => reject(new Error(`host exited (${code}) before listening:\n${stderr}`)));
  });
  return { url, child, exitCode };
}

/** Failures are what several tests expect, so the client does not log them. */
const clientOf = (url: string, opts: ClickHouseClientConfigOptions = {}) =>
  createClient({ url, log: { level: ClickHouseLogLevel.OFF }, ...opts });

async function waitFor(check: () => Promise<boolean>, { timeout }: { timeout: number }): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function rowsOf<T>(
  client: ClickHouseClient,
  query: string,
  opts: Omit<QueryParams, 'query' | 'format'> = {},
) {
  const rs = await client.query({ ...opts, query, format: 'JSONEachRow' });
  return rs.json<T>();
}

async function clickHouseErrorOf(work: Promise<unknown>): Promise<ClickHouseError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClickHouseError);
  return err as ClickHouseError;
}

/** Rows a streamed result yields, counted as they arrive (nothing is kept). */
async function countStreamed(stream: AsyncIterable<Row[]>): Promise<{ rows: number; sum: number }> {
  let rows = 0;
  let sum = 0;
  for await (const batch of stream) {
    for (const row of batch) {
      rows += 1;
      sum += Number(row.json<{ number: string | number }>().number);
    }
  }
  return { rows, sum };
}

describe('local ClickHouse host', () => {
  let dataDir: string;
  let host: HostProcess;
  let plain: ClickHouseClient;
  let compressed: ClickHouseClient;
  const clientFor = (name: 'plain' | 'gzip') => (name === 'gzip' ? compressed : plain);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tidemark-ch-host-'));
    host = await spawnHost(dataDir);
    plain = clientOf(host.url);
    compressed = clientOf(host.url, { compression: { request: true, response: true } });
  }, 60_000);

  afterAll(async () => {
    await plain?.close();
    await compressed?.close();
    if (host && host.child.exitCode === null) {
      host.child.kill('SIGTERM');
      await host.exitCode;
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('answers ping() on /ping and as a query', async () => {
    expect(await plain.ping()).toEqual({ success: true });
    expect(await plain.ping({ select: true })).toEqual({ success: true });
  });

  it('runs DDL through command() and reports missing tables as ClickHouseError 60', async () => {
    await plain.command({ query: 'CREATE DATABASE IF NOT EXISTS ddl_db' });
    await plain.command({ query: 'CREATE TABLE ddl_db.t (id UInt32) ENGINE = MergeTree ORDER BY id' });
    const tables = await rowsOf<{ name: string }>(plain, 'SHOW TABLES FROM ddl_db');
    expect(tables).toEqual([{ name: 't' }]);

    await plain.command({ query: 'DROP TABLE ddl_db.t' });
    for (const format of ['JSONEachRow', 'JSON'] as const) {
      const err = await clickHouseErrorOf(plain.query({ query: 'SELECT * FROM ddl_db.t', format }));
      expect(err.code).toBe('60');
      expect(err.type).toBe('UNKNOWN_TABLE');
    }
    const syntax = await clickHouseErrorOf(plain.command({ query: 'SELEC 1' }));
    expect(syntax.code).toBe('62');
  });

  it.each(['plain', 'gzip'] as const)(
    'round-trips rows with insert() and query() (%s client)',
    async (name) => {
      const client = clientFor(name);
      const table = `round_trip_${name}`;
      await client.command({
        query: `CREATE TABLE ${table} (id UInt32, s String, big UInt64, tags Array(String), at DateTime) ENGINE = MergeTree ORDER BY id`,
      });
      const rows = [
        {
          id: 1,
          s: "quote ' backslash \\ tab \t newline \n é 😀",
          big: '18446744073709551615',
          tags: ['a', "b'c"],
          at: '2024-03-31 01:30:00',
        },
        { id: 2, s: '', big: '0', tags: [], at: '1970-01-01 00:00:00' },
      ];
      const inserted = await client.insert({ table, values: rows, format: 'JSONEachRow' });
      expect(inserted.summary?.written_rows).toBe('2');

      const back = await rowsOf(client, `SELECT * FROM ${table} ORDER BY id`, {
        clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
      });
      expect(back).toEqual(rows);
    },
  );

  it('takes insert data in formats and shapes the raw insert path does not', async () => {
    await plain.command({
      query: 'CREATE TABLE other_shapes (id UInt32, s String, skipped UInt8 DEFAULT 7) ENGINE = Memory',
    });
    await compressed.insert({
      table: 'other_shapes',
      values: [{ id: '1', s: 'strings' }],
      format: 'JSONStringsEachRow',
      columns: { except: ['skipped'] },
    });
    await plain.insert({ table: 'other_shapes', values: [[2, 'compact', 8]], format: 'JSONCompactEachRow' });
    expect(await rowsOf(plain, 'SELECT * FROM other_shapes ORDER BY id')).toEqual([
      { id: 1, s: 'strings', skipped: 7 },
      { id: 2, s: 'compact', skipped: 8 },
    ]);
  });

  it('takes RowBinary inserts whatever bytes they hold, once per deduplication token', async () => {
    await plain.command({
      query: `CREATE TABLE binary_rows (id UInt32, s String) ENGINE = MergeTree ORDER BY id
              SETTINGS non_replicated_deduplication_window = 100`,
    });
    // Newline pairs, zero bytes and a leading space: each broke or shifted inline data.
    const row = (id: number, s: string) => {
      const text = Buffer.from(s);
      const head = Buffer.alloc(5);
      head.writeUInt32LE(id);
      head[4] = text.length;
      return Buffer.concat([head, text]);
    };
    const body = Buffer.concat([row(0x0a0a0a20, '\n\n\0 x'), row(2, ''), row(3, '\r\n\n;')]);
    const insert = async (bytes: Buffer, token: string) => {
      const { stream, summary } = await plain.exec({
        query: 'INSERT INTO binary_rows (id, s) FORMAT RowBinary',
        values: Readable.from([bytes]),
        clickhouse_settings: { insert_deduplication_token: token },
      });
      stream.resume();
      return summary;
    };
    expect((await insert(body, 'B'))?.written_rows).toBe('3');
    await insert(body, 'B');
    expect(await rowsOf(plain, 'SELECT id, s FROM binary_rows ORDER BY id')).toEqual([
      { id: 2, s: '' },
      { id: 3, s: '\r\n\n;' },
      { id: 0x0a0a0a20, s: '\n\n\0 x' },
    ]);

    // Bytes that end inside a row: the engine's error, and nothing of the insert stored.
    const cut = await clickHouseErrorOf(insert(body.subarray(0, body.length - 2), 'C'));
    expect(cut.code).toBe('33');
    expect(await rowsOf(plain, 'SELECT count() AS n FROM binary_rows')).toEqual([{ n: 3 }]);
  });

  it('keeps a per-request insert_deduplication_token out of the next insert', async () => {
    await plain.command({
      query: `CREATE TABLE dedup (id UInt32, v String) ENGINE = MergeTree ORDER BY id
              SETTINGS non_replicated_deduplication_window = 100`,
    });
    const insert = (id: number, token?: string) =>
      plain.insert({
        table: 'dedup',
        values: [{ id, v: `row ${id}` }],
        format: 'JSONEachRow',
        ...(token ? { clickhouse_settings: { insert_deduplication_token: token } } : {}),
      });

    await insert(1, 'T');
    await insert(2);
    // The token did apply to its own request: another insert under it is dropped as a duplicate.
    await insert(3, 'T');

    expect(await rowsOf(plain, 'SELECT id FROM dedup ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('applies settings to their own request only', async () => {
    const setting = async (name: string, settings = {}) => {
      const [row] = await rowsOf<{ v: string }>(plain, `SELECT toString(getSetting('${name}')) AS v`, {
        clickhouse_settings: settings,
      });
      return row!.v;
    };
    expect(await setting('max_result_rows', { max_result_rows: '12345' })).toBe('12345');
    expect(await setting('max_result_rows')).toBe('0');

    await plain.command({ query: 'CREATE TABLE ro (id UInt32) ENGINE = Memory' });
    const refused = await clickHouseErrorOf(
      plain.command({ query: 'INSERT INTO ro VALUES (1)', clickhouse_settings: { readonly: '1' } }),
    );
    expect(refused.code).toBe('164');
    await plain.command({ query: 'INSERT INTO ro VALUES (2)' });
    expect(await setting('readonly')).toBe('0');

    // A SET sent as a statement is as short-lived as on a server without a session.
    await plain.command({ query: 'SET max_result_rows = 777' });
    expect(await setting('max_result_rows')).toBe('0');
  });

  it('recovers when a setting cannot be reset (unknown name, or one that stops parsing)', async () => {
    const unknown = await clickHouseErrorOf(
      plain.query({ query: 'SELECT 1', clickhouse_settings: { max_result_rows: '5', no_such_setting: 1 } }),
    );
    expect(unknown.code).toBe('115');
    const tooLong = await clickHouseErrorOf(
      plain.query({ query: 'SELECT 1 AS a, 2 AS b', clickhouse_settings: { max_query_size: '10' } }),
    );
    expect(tooLong.code).toBe('62');
    expect(
      await rowsOf(
        plain,
        "SELECT toString(getSetting('max_result_rows')) AS r, toString(getSetting('max_query_size')) AS q",
      ),
    ).toEqual([{ r: '0', q: '262144' }]);
  });

  it('binds parameters as the server does, in the URL and in a multipart body', async () => {
    const query_params = {
      s: "it's a \\ back\tslash\nline é 😀 {x:String}",
      tags: ['plain', "quo'te", 'back\\slash', 'tab\there'],
      n: 42,
      m: { "k'ey": 'v\\al' },
    };
    const expected = [{ s: query_params.s, tags: query_params.tags, n: 42, m: query_params.m }];
    const query =
      'SELECT {s:String} AS s, {tags:Array(String)} AS tags, {n:UInt32} AS n, {m:Map(String, String)} AS m';
    expect(await rowsOf(plain, query, { query_params })).toEqual(expected);

    const multipart = clientOf(host.url, { use_multipart_params: true });
    try {
      expect(await rowsOf(multipart, query, { query_params })).toEqual(expected);
    } finally {
      await multipart.close();
    }

    // The engine keeps earlier values, but like a server the host refuses a parameter not sent.
    const missing = await clickHouseErrorOf(plain.query({ query: 'SELECT {s:String} AS s' }));
    expect(missing.code).toBe('456');
  });

  it('runs each request in its own database', async () => {
    await plain.command({ query: 'CREATE DATABASE IF NOT EXISTS iso_db' });
    const iso = clientOf(host.url, { database: 'iso_db' });
    try {
      await iso.command({ query: 'CREATE TABLE only_here (id UInt8) ENGINE = Memory' });
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          rowsOf<{ db: string }>(i % 2 ? iso : plain, 'SELECT currentDatabase() AS db'),
        ),
      );
      answers.forEach((rows, i) => expect(rows).toEqual([{ db: i % 2 ? 'iso_db' : 'default' }]));

      const err = await clickHouseErrorOf(plain.query({ query: 'SELECT * FROM only_here' }));
      expect(err.code).toBe('60');
    } finally {
      await iso.close();
    }
  });

  it.each(['plain', 'gzip'] as const)(
    'streams a million rows through resultSet.stream() (%s client)',
    async (name) => {
      const rs = await clientFor(name).query({
        query: 'SELECT number FROM numbers(1000000)',
        format: 'JSONEachRow',
      });
      expect(await countStreamed(rs.stream())).toEqual({ rows: 1_000_000, sum: 499_999_500_000 });
    },
    60_000,
  );

  it('streams formats with header rows once, however many chunks the engine makes', async () => {
    const rs = await plain.query({
      query: 'SELECT number FROM numbers(250000) SETTINGS max_block_size = 100000',
      format: 'JSONCompactEachRowWithNamesAndTypes',
    });
    const lines = (await rs.text()).trimEnd().split('\n');
    expect(lines.slice(0, 3)).toEqual(['["number"]', '["UInt64"]', '[0]']);
    expect(lines).toHaveLength(250_002);
  });

  it.each(['plain', 'gzip'] as const)(
    'reports a failure after the result started, in the stream (%s client)',
    async (name) => {
      const failing = () =>
        clientFor(name).query({
          query:
            'SELECT number, throwIf(number = 150000) AS boom FROM numbers(300000) SETTINGS max_block_size = 1000',
          format: 'JSONEachRow',
        });
      const err = await clickHouseErrorOf((await failing()).stream().toArray());
      expect(err.code).toBe('395');
      // A reader that does not look for the exception block still sees a broken response.
      await expect((await failing()).text()).rejects.toThrow();
    },
  );

  it('answers concurrent requests, each with its own settings, parameters and database', async () => {
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        rowsOf<{ i: number; m: string; db: string }>(
          i % 2 ? compressed : plain,
          "SELECT {i:UInt32} AS i, toString(getSetting('max_result_rows')) AS m, currentDatabase() AS db",
          {
            query_params: { i },
            clickhouse_settings: { max_result_rows: String(1000 + i) },
          },
        ),
      ),
    );
    answers.forEach((rows, i) => expect(rows).toEqual([{ i, m: String(1000 + i), db: 'default' }]));
  });

  it('bounds a query with max_execution_time (TIMEOUT_EXCEEDED, 159)', async () => {
    const started = Date.now();
    const err = await clickHouseErrorOf(
      plain.query({
        query: 'SELECT count() FROM numbers(10000000000)',
        format: 'JSONEachRow',
        clickhouse_settings: { max_execution_time: 0.5 },
      }),
    );
    expect(err.code).toBe('159');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await rowsOf(plain, "SELECT toString(getSetting('max_execution_time')) AS v")).toEqual([
      { v: '0' },
    ]);
  });

  it('runs exec() with the query in the body and returns the raw stream', async () => {
    const { stream } = await plain.exec({ query: 'SELECT 1 AS one, 2 AS two FORMAT TSVWithNames' });
    let text = '';
    for await (const chunk of stream) text += chunk.toString();
    expect(text).toBe('one\ttwo\n1\t2\n');
  });

  it('finishes in-flight queries, stops accepting and exits 0 on SIGTERM', async () => {
    // Headers arrive with the first block, so the query is in flight once query() resolves.
    const rs = await plain.query({
      query: 'SELECT number, sleepEachRow(0.001) FROM numbers(2000) SETTINGS max_block_size = 100',
      format: 'JSONEachRow',
    });
    host.child.kill('SIGTERM');

    const fresh = clientOf(host.url);
    try {
      await waitFor(async () => !(await fresh.ping()).success, { timeout: 2_000 });
    } finally {
      await fresh.close();
    }
    expect((await countStreamed(rs.stream())).rows).toBe(2000);
    expect(await host.exitCode).toBe(0);
  }, 30_000);

  it('keeps its data across a restart on the same data directory', async () => {
    expect(host.child.exitCode).toBe(0);
    host = await spawnHost(dataDir);
    const client = clientOf(host.url);
    try {
      expect(await rowsOf(client, 'SELECT id FROM dedup ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
    } finally {
      await client.close();
    }
  }, 60_000);
});
