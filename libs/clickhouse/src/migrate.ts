import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createClient } from '@clickhouse/client';
import type { ClickHouseConfig } from './client';

export const CLICKHOUSE_MIGRATIONS_DIR = fileURLToPath(
  new URL('../../../infra/clickhouse/migrations', import.meta.url),
);

/** Splits a migration file on `;` at the end of a line; `--` comment lines are dropped. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The PostgreSQL advisory lock key under which ClickHouse migrations run. ClickHouse has no lock
 * of its own, and a migration that copies a table (004) must not run twice at once.
 */
export const CLICKHOUSE_MIGRATION_LOCK_ID = 7_246_002;

/** Holds a lock shared by every process that migrates while `work` runs. */
export type MigrationLock = <T>(work: () => Promise<T>) => Promise<T>;

/** A copy of a large table (004) takes minutes, not the client's default 30 s. */
const MIGRATION_REQUEST_TIMEOUT_MS = 6 * 3600 * 1000;

/**
 * Creates the database if needed and applies `NNN_name.sql` files in order, recording each in
 * `schema_migrations`. Every file can simply run again after an interruption (DDL with `IF NOT
 * EXISTS`, a copy that starts from an empty table). With `lock`, the pending files are read and
 * applied under it, so replicas starting together apply each file once. `{retention_days}` in a
 * file is replaced by the configured raw retention (an operator setting, never user input).
 */
export async function migrateClickHouse(
  config: ClickHouseConfig,
  opts: { rawRetentionDays: number; dir?: string; lock?: MigrationLock },
): Promise<string[]> {
  const lock: MigrationLock = opts.lock ?? ((work) => work());
  return lock(() => applyMigrations(config, opts));
}

async function applyMigrations(
  config: ClickHouseConfig,
  opts: { rawRetentionDays: number; dir?: string },
): Promise<string[]> {
  const dir = opts.dir ?? CLICKHOUSE_MIGRATIONS_DIR;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(config.database)) {
    throw new Error(`invalid ClickHouse database name: ${config.database}`);
  }
  const bootstrap = createClient({
    url: config.url,
    username: config.username ?? 'default',
    password: config.password ?? '',
  });
  try {
    await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${config.database}` });
  } finally {
    await bootstrap.close();
  }
  const client = createClient({
    url: config.url,
    database: config.database,
    username: config.username ?? 'default',
    password: config.password ?? '',
    request_timeout: MIGRATION_REQUEST_TIMEOUT_MS,
    // Keeps a long copy's connection busy, so no proxy in between drops it as idle.
    clickhouse_settings: { send_progress_in_http_headers: 1, http_headers_progress_interval_ms: '60000' },
  });
  const applied: string[] = [];
  try {
    await client.command({
      query: `CREATE TABLE IF NOT EXISTS schema_migrations (version String, applied_at DateTime64(3) DEFAULT now64(3))
              ENGINE = MergeTree ORDER BY version`,
    });
    const done = new Set(
      (
        await (
          await client.query({ query: 'SELECT version FROM schema_migrations', format: 'JSONEachRow' })
        ).json<{ version: string }>()
      ).map((r) => r.version),
    );
    const files = (await readdir(dir)).filter((f) => /^\d{3,}_[\w-]+\.sql$/.test(f)).sort();
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = (await readFile(`${dir}/${file}`, 'utf8')).replaceAll(
        '{retention_days}',
        String(Math.trunc(opts.rawRetentionDays)),
      );
      for (const statement of splitStatements(sql)) {
        try {
          await client.command({ query: statement });
        } catch (err) {
          throw new Error(`clickhouse migration ${file} failed: ${(err as Error).message}`, { cause: err });
        }
      }
      await client.insert({ table: 'schema_migrations', values: [{ version: file }], format: 'JSONEachRow' });
      applied.push(file);
    }
  } finally {
    await client.close();
  }
  return applied;
}
