import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { withAdvisoryLock } from './lock';

export const POSTGRES_MIGRATIONS_DIR = fileURLToPath(
  new URL('../../../infra/postgres/migrations', import.meta.url),
);

// Any constant works; it only has to be the same in every process that migrates.
const MIGRATION_LOCK_ID = 7_246_001;

/**
 * Applies `NNN_name.sql` files in order, each in its own transaction, recording them in
 * `schema_migrations`. An advisory lock makes concurrent starts (several api replicas) safe.
 */
export async function migratePostgres(pool: pg.Pool, dir = POSTGRES_MIGRATIONS_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3,}_[\w-]+\.sql$/.test(f)).sort();
  return withAdvisoryLock(pool, MIGRATION_LOCK_ID, async (client) => {
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version text PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: string }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(`${dir}/${file}`, 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [file]);
        await client.query('COMMIT');
        applied.push(file);
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`postgres migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
    }
    return applied;
  });
}
