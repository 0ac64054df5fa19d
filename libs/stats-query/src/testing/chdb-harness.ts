import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLICKHOUSE_MIGRATIONS_DIR, splitStatements } from '@tidemark/clickhouse';
import { Session } from 'chdb';
import type { ClickHouseQuery } from '../sql/query-params';

/**
 * The real ClickHouse engine in process (chdb), with the project's migrations applied, for tests
 * that run the builders' SQL. Parameters travel as the HTTP interface and the local engine host
 * pass them: `param_<name>` set to the value's text form, as `@clickhouse/client` formats it.
 */
export class ChdbHarness {
  readonly #dir: string;
  readonly #session: Session;

  private constructor() {
    this.#dir = mkdtempSync(join(tmpdir(), 'stats-query-'));
    this.#session = new Session(this.#dir, { connectionArgs: ['--implicit_select=0'] });
  }

  /** Opens an engine with the migrations applied; raw retention is ten years (more would overflow the TTL's DateTime) so test data never expires. */
  static async open(): Promise<ChdbHarness> {
    const h = new ChdbHarness();
    await h.exec('CREATE DATABASE IF NOT EXISTS stats_test');
    await h.exec('USE stats_test');
    for (const file of readdirSync(CLICKHOUSE_MIGRATIONS_DIR)
      .filter((f) => /^\d{3,}_[\w-]+\.sql$/.test(f))
      .sort()) {
      const sql = readFileSync(join(CLICKHOUSE_MIGRATIONS_DIR, file), 'utf8').replaceAll(
        '{retention_days}',
        '3650',
      );
      for (const statement of splitStatements(sql)) await h.exec(statement);
    }
    return h;
  }

  async exec(sql: string): Promise<void> {
    await this.#session.queryAsync(sql);
  }

  async rows<T = Record<string, unknown>>(q: ClickHouseQuery): Promise<T[]> {
    const assignments = Object.entries(q.query_params).map(
      ([name, value]) => `param_${name} = ${quote(formatParam(value, false))}`,
    );
    if (assignments.length) await this.exec(`SET ${assignments.join(', ')}`);
    const text = (await this.#session.queryAsync(q.query, { format: 'JSONEachRow' })).text();
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as T);
  }

  async insertEvents(rows: readonly Record<string, unknown>[]): Promise<void> {
    if (!rows.length) return;
    await this.exec(`INSERT INTO events FORMAT JSONEachRow ${rows.map((r) => JSON.stringify(r)).join('\n')}`);
  }

  close(): void {
    this.#session.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** A string literal for SQL text, as the engine host writes one. */
function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The text form `@clickhouse/client` sends for a query parameter value. */
function formatParam(value: unknown, inArray: boolean): string {
  if (Array.isArray(value)) return `[${value.map((v) => formatParam(v, true)).join(',')}]`;
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') throw new Error(`unexpected parameter value ${String(value)}`);
  const escaped = value.replace(
    /[\t\n\r'\\]/g,
    (c) => ({ '\t': '\\t', '\n': '\\n', '\r': '\\r', "'": "\\'", '\\': '\\\\' })[c]!,
  );
  return inArray ? `'${escaped}'` : escaped;
}
