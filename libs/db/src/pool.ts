import pg from 'pg';
import type { Component } from '@tidemark/runtime';

// int8 (COUNT(*), BIGINT ids) as JS numbers: our counters stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export function createPool(url: string, opts: { max?: number; applicationName?: string } = {}): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'tidemark',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
}

export function postgresComponent(pool: pg.Pool): Component {
  return {
    name: 'postgres',
    healthcheck: async () => {
      await pool.query('SELECT 1');
    },
    onShutdown: () => pool.end(),
  };
}
