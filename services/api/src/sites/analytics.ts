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
  /**
   * Events completing each goal over the last 30 days, in the order given. Null when ClickHouse
   * cannot answer in time, as for `eventsThisMonth`.
   */
  goalEventsLast30d(siteId: string, goals: readonly GoalTarget[]): Promise<number[] | null>;
  /** Queues the deletion of every row of the site in every table that has a `site_id` column. */
  deleteSiteData(siteId: string): Promise<string[]>;
}

/** What completes a goal: exactly one of the two is set (goals table). */
export interface GoalTarget {
  event_name: string | null;
  /** Exact, or a prefix when it ends in `*`. */
  page_path: string | null;
}

/**
 * SQL true when an `events` row completes the goal; the values go in `params` under `name`, never
 * into the SQL text. Page goals count pageviews only.
 */
function goalCondition(goal: GoalTarget, name: string, params: Record<string, string>): string {
  if (goal.event_name !== null) {
    params[name] = goal.event_name;
    return `name = {${name}:String}`;
  }
  const path = goal.page_path ?? '';
  if (path.endsWith('*')) {
    params[name] = path.slice(0, -1);
    return `name = 'pageview' AND startsWith(pathname, {${name}:String})`;
  }
  params[name] = path;
  return `name = 'pageview' AND pathname = {${name}:String}`;
}

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD hh:mm:ss.sss`, the text form a DateTime64(3, 'UTC') parameter takes. */
const chDateTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

export const startOfUtcMonth = (now: Date) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));

const quoteIdentifier = (name: string) => `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``;

export function createSiteAnalytics(opts: {
  clickhouse: ClickHouse;
  logger: Logger;
  registry: Registry;
  countTimeoutMs?: number;
  /**
   * A usage figure need not be live to the second, and listing sites must not cost a ClickHouse
   * query per request: counts are reused for this long.
   */
  usageCacheTtlMs?: number;
}): SiteAnalytics {
  const { clickhouse, logger } = opts;
  const usageTtlMs = opts.usageCacheTtlMs ?? 5_000;
  const usageCache = new Map<string, { events: number; expiresAt: number }>();
  const failures = new Counter({
    name: 'tidemark_api_clickhouse_failures_total',
    help: 'ClickHouse calls of the admin routes that failed (the route degraded or answered 503)',
    labelNames: ['operation'],
    registers: [opts.registry],
  });

  /**
   * Counts of the given sites, or null when ClickHouse did not answer; each stays in `pending`
   * until it settles, so concurrent requests missing the same site share one query.
   */
  const pending = new Map<string, Promise<number | null>>();
  const fetchCounts = (siteIds: string[], now: number) => {
    const query = (async (): Promise<Map<string, number> | null> => {
      try {
        // From the 15-minute site rollup: a month is a few thousand rows per site, where the raw
        // table would be every event; the usage month starts on a bucket boundary, so it is exact.
        const result = await clickhouse.query({
          query: `SELECT toString(site_id) AS id, sum(events) AS events
                    FROM rollup_site_per_15m
                   WHERE site_id IN {site_ids:Array(UUID)} AND bucket >= {from:DateTime('UTC')}
                   GROUP BY site_id`,
          query_params: { site_ids: siteIds, from: chDateTime(startOfUtcMonth(new Date(now))).slice(0, 19) },
          format: 'JSONEachRow',
          abort_signal: AbortSignal.timeout(opts.countTimeoutMs ?? 2_000),
        });
        const counts = new Map<string, number>(siteIds.map((id) => [id, 0]));
        for (const row of await result.json<{ id: string; events: string | number }>()) {
          counts.set(row.id, Number(row.events));
        }
        if (usageCache.size > 100_000) usageCache.clear();
        for (const id of siteIds)
          usageCache.set(id, { events: counts.get(id)!, expiresAt: now + usageTtlMs });
        return counts;
      } catch (err) {
        failures.inc({ operation: 'events_this_month' });
        logger.warn({ err }, 'ClickHouse did not answer events_this_month; answering null');
        return null;
      }
    })();
    for (const id of siteIds) {
      const count = query.then((counts) => counts?.get(id) ?? null);
      pending.set(id, count);
      void count.finally(() => {
        if (pending.get(id) === count) pending.delete(id);
      });
    }
  };

  return {
    async eventsThisMonth(siteIds) {
      const now = Date.now();
      const counts = new Map<string, number>();
      const missing: string[] = [];
      for (const id of siteIds) {
        const hit = usageCache.get(id);
        if (hit && hit.expiresAt > now) counts.set(id, hit.events);
        else if (!pending.has(id)) missing.push(id);
      }
      if (missing.length > 0) fetchCounts(missing, now);
      // Taken before any await: a count that settles meanwhile leaves `pending`.
      const waits = siteIds.filter((id) => !counts.has(id)).map((id) => [id, pending.get(id)!] as const);
      for (const [id, wait] of waits) {
        const count = await wait;
        if (count === null) return null;
        counts.set(id, count);
      }
      return counts;
    },

    async goalEventsLast30d(siteId, goals) {
      if (goals.length === 0) return [];
      const params: Record<string, string> = {
        site_id: siteId,
        from: chDateTime(new Date(Date.now() - 30 * DAY_MS)),
      };
      const counts = goals.map((g, i) => `countIf(${goalCondition(g, `g${i}`, params)}) AS c${i}`);
      try {
        const result = await clickhouse.query({
          query: `SELECT ${counts.join(', ')}
                    FROM events
                   WHERE site_id = {site_id:UUID} AND timestamp >= {from:DateTime64(3, 'UTC')}`,
          query_params: params,
          format: 'JSONEachRow',
          abort_signal: AbortSignal.timeout(opts.countTimeoutMs ?? 2_000),
        });
        const [row] = await result.json<Record<string, string | number>>();
        return goals.map((_, i) => Number(row?.[`c${i}`] ?? 0));
      } catch (err) {
        failures.inc({ operation: 'goal_events' });
        logger.warn({ err, siteId }, 'ClickHouse did not answer events_last_30d; answering null');
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
