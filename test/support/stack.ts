import { inject } from 'vitest';
import { createPool, migratePostgres } from '@tidemark/db';
import { migrateClickHouse, type ClickHouseConfig } from '@tidemark/clickhouse';
import { createDatabase } from '../../infra/local/src/engines/postgres';
import { uniqueSuffix, type StackEnv } from './names';

export { uniqueSuffix, type StackEnv };

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackEnv;
  }
}

export const stackEnv = (): StackEnv => inject('stack');

/** A freshly migrated ClickHouse database of its own. */
export async function freshClickHouse(): Promise<ClickHouseConfig> {
  const env = stackEnv();
  const config: ClickHouseConfig = { url: env.CLICKHOUSE_URL, database: `t_${uniqueSuffix()}` };
  await migrateClickHouse(config, { rawRetentionDays: Number(env.RAW_RETENTION_DAYS) });
  return config;
}

/** A freshly migrated PostgreSQL database of its own; returns its URL. */
export async function freshPostgres(): Promise<string> {
  const base = new URL(stackEnv().DATABASE_URL);
  // Named after the run's database so the global teardown drops it with the rest of the run.
  base.pathname = `${base.pathname}_${uniqueSuffix()}`;
  const url = base.toString();
  await createDatabase(url);
  const pool = createPool(url, { max: 1 });
  try {
    await migratePostgres(pool);
  } finally {
    await pool.end();
  }
  return url;
}

/** Polls until `check` returns a value that is not undefined (or stops throwing). */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  { timeout = 20_000, interval = 100, message = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeout} ms waiting for ${message}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
