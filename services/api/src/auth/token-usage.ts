import type { Pool } from '@tidemark/db';
import type { Logger } from '@tidemark/logging';

type Table = 'account_tokens' | 'site_api_keys';

/**
 * `last_used_at` without a write per request: uses are remembered in memory and written in one
 * UPDATE per table every few seconds (and on close). The column is therefore accurate to the flush
 * interval, which is all a "last used" column promises.
 */
export class TokenUsageRecorder {
  private pending: Record<Table, Map<string, Date>> = { account_tokens: new Map(), site_api_keys: new Map() };
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  touch(table: Table, id: string, at = new Date()): void {
    this.pending[table].set(id, at);
  }

  async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = { account_tokens: new Map(), site_api_keys: new Map() };
    for (const table of Object.keys(batch) as Table[]) {
      const uses = batch[table];
      if (uses.size === 0) continue;
      try {
        // The table name is one of two constants; ids and times are bound.
        await this.pool.query(
          `UPDATE ${table} AS t SET last_used_at = u.at
             FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)
            WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)`,
          [[...uses.keys()], [...uses.values()]],
        );
      } catch (err) {
        this.logger.warn({ err, table, count: uses.size }, 'could not record token usage');
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
