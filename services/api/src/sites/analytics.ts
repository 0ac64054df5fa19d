import type { ClickHouse } from '@tidemark/clickhouse';
import type { Logger } from '@tidemark/logging';
import { Counter, type Registry } from 'prom-client';

export interface SiteAnalytics {
  /**
   * Events per site since the start of the current calendar month in UTC (the usage month). Null
   * when ClickHouse cannot answer in time: admin routes then show the site without the figure
   * rather than fail.
   */
  eventsThisMonth(siteIds: readonly string[]): Promise<Map<string, number> | null>;
  /** Queues the deletion of every row of the site in every table that has a `site_id` column. */
  deleteSiteData(siteId: string): Promise<string[]>;
}

/** `YYYY-MM-DD hh:mm:ss.sss`, the text form a DateTime64(3, 'UTC') parameter takes. */
const chDateTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

export const startOfUtcMonth = (now: Date) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));

const quoteIdentifier = (name: string) => `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``;

export function createSiteAnalytics(opts: {
  clickhouse: ClickHouse;
  logger: Logger;
  registry: Registry;
  countTimeoutMs?: number;
}): SiteAnalytics {
  const { clickhouse, logger } = opts;
  const failures = new Counter({
    name: 'tidemark_api_clickhouse_failures_total',
    help: 'ClickHouse calls of the admin routes that failed (the route degraded or answered 503)',
    labelNames: ['operation'],
    registers: [opts.registry],
  });

  return {
    async eventsThisMonth(siteIds) {
      const counts = new Map<string, number>(siteIds.map((id) => [id, 0]));
      if (siteIds.length === 0) return counts;
      try {
        const result = await clickhouse.query({
          query: `SELECT toString(site_id) AS id, count() AS events
                    FROM events
                   WHERE site_id IN {site_ids:Array(UUID)} AND timestamp >= {from:DateTime64(3, 'UTC')}
                   GROUP BY site_id`,
          query_params: { site_ids: [...siteIds], from: chDateTime(startOfUtcMonth(new Date())) },
          format: 'JSONEachRow',
          abort_signal: AbortSignal.timeout(opts.countTimeoutMs ?? 2_000),
        });
        for (const row of await result.json<{ id: string; events: string | number }>()) {
          counts.set(row.id, Number(row.events));
        }
        return counts;
      } catch (err) {
        failures.inc({ operation: 'events_this_month' });
        logger.warn({ err }, 'ClickHouse did not answer events_this_month; answering null');
        return null;
      }
    },

    async deleteSiteData(siteId) {
      try {
        // Every table of the database with a site_id column, so rollups added later are covered
        // without a code change. Views hold no rows of their own (their targets are MergeTree tables).
        const result = await clickhouse.query({
          query: `SELECT DISTINCT c.table AS name
                    FROM system.columns AS c
                   WHERE c.database = currentDatabase() AND c.name = 'site_id'
                     AND c.table IN (SELECT name FROM system.tables
                                      WHERE database = currentDatabase() AND engine LIKE '%MergeTree')
                   ORDER BY name`,
          format: 'JSONEachRow',
        });
        const tables = (await result.json<{ name: string }>()).map((r) => r.name);
        for (const table of tables) {
          await clickhouse.command({
            query: `ALTER TABLE ${quoteIdentifier(table)} DELETE WHERE site_id = {site_id:UUID}`,
            query_params: { site_id: siteId },
          });
        }
        return tables;
      } catch (err) {
        failures.inc({ operation: 'delete_site_data' });
        throw err;
      }
    },
  };
}
