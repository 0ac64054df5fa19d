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
 * Creates the database if needed and applies `NNN_name.sql` files in order, recording each in
 * `schema_migrations`. DDL is written idempotent (`IF NOT EXISTS`) so a migration interrupted
 * half-way can simply run again. `{retention_days}` in a file is replaced by the configured raw
 * retention (an operator setting, never user input).
 */
export async function migrateClickHouse(
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
