import type { Pool, PoolClient } from '@tidemark/db';

/** A pool or a client inside a transaction: store functions take either. */
export type Queryable = Pick<Pool, 'query'> | PoolClient;

export async function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

export const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
