import type { SummaryCatalog } from '@tidemark/clickhouse';
import type { Pool } from '@tidemark/db';
import { ApiError } from '@tidemark/http';
import {
  periodMayUseSummaries,
  resolvePeriod,
  type CommonQuery,
  type DataSource,
  type FunnelStep,
  type GoalDefinition,
  type ResolvedPeriod,
  type StatsSqlContext,
} from '@tidemark/stats-query';
import type { FastifyBaseLogger } from 'fastify';
import type { SiteRow } from '../sites/sites.store';
import type { StatsReader } from './stats-reader';

/**
 * Switches for tests only, reachable through `buildApp`'s dependencies and never from a request:
 * a fixed clock, so that periods computed by a test and by the api agree, and a forced data
 * source, so that one query can be answered from rollups and from raw events and compared.
 */
export interface StatsDebug {
  now?: () => Date;
  forceSource?: DataSource;
}

export interface StatsEnv {
  pool: Pool;
  reader: StatsReader;
  rawRetentionDays: number;
  /** The valid closed-month summaries (see `summaryCatalogCache`). */
  summaries: (log: FastifyBaseLogger) => Promise<SummaryCatalog | undefined>;
  debug: StatsDebug;
}

/** The site's goals, for `goal` filters and breakdowns and goal steps of funnels. */
async function loadGoals(pool: Pool, siteId: string): Promise<GoalDefinition[]> {
  const { rows } = await pool.query<GoalDefinition>(
    'SELECT name, event_name, page_path FROM goals WHERE site_id = $1 ORDER BY name',
    [siteId],
  );
  return rows;
}

/**
 * The site's first event, for `period=all` (rollups are kept for ever, so all retained data starts
 * there). The first rollup bucket is a prefix read of `rollup_site_per_15m`'s sorting key.
 */
async function earliestEvent(
  reader: StatsReader,
  siteId: string,
  log: FastifyBaseLogger,
): Promise<Date | undefined> {
  const [row] = await reader.rows<{ earliest: string | null }>(
    {
      query: 'SELECT minOrNull(bucket) AS earliest FROM rollup_site_per_15m WHERE site_id = {site:UUID}',
      query_params: { site: siteId },
    },
    log,
  );
  return row?.earliest ? new Date(row.earliest) : undefined;
}

/**
 * Everything a stats builder needs about one request: the site's zone, the period pinned to the
 * site's calendar, raw retention, the goals when the query names any.
 */
export async function statsContext(
  env: StatsEnv,
  site: SiteRow,
  query: CommonQuery,
  log: FastifyBaseLogger,
  opts: { needsGoals?: boolean } = {},
): Promise<StatsSqlContext> {
  const now = env.debug.now?.() ?? new Date();
  const needsGoals = opts.needsGoals || query.filters.some((f) => f.key === 'goal');
  const [goals, earliest] = await Promise.all([
    needsGoals ? loadGoals(env.pool, site.id) : [],
    query.period.preset === 'all' ? earliestEvent(env.reader, site.id, log) : undefined,
  ]);
  const period: ResolvedPeriod = resolvePeriod(query.period, {
    timezone: site.timezone,
    now,
    ...(earliest ? { earliest } : {}),
  });
  // Only a period that can read summaries asks for the catalog (realtime, the last 24 hours and a
  // day off UTC never do); a forced source compares rollups with raw events, so summaries stay out.
  const summaries =
    !env.debug.forceSource && periodMayUseSummaries(period.startUtc, period.endUtc)
      ? await env.summaries(log)
      : undefined;
  return {
    siteId: site.id,
    timezone: site.timezone,
    period,
    now,
    rawRetentionDays: env.rawRetentionDays,
    goals,
    ...(env.debug.forceSource ? { forceSource: env.debug.forceSource } : {}),
    ...(summaries ? { summaries } : {}),
  };
}

export interface StoredFunnel {
  id: string;
  name: string;
  steps: FunnelStep[];
  window_minutes: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A live funnel of the site; a deleted one, another site's or a malformed id are all 404. */
export async function loadFunnel(pool: Pool, siteId: string, funnelId: string): Promise<StoredFunnel> {
  const notFound = () => new ApiError('not_found', 'no such funnel on this site');
  if (!UUID.test(funnelId)) throw notFound();
  const { rows } = await pool.query<StoredFunnel>(
    `SELECT id, name, steps, window_minutes FROM funnels
      WHERE id = $1 AND site_id = $2 AND deleted_at IS NULL`,
    [funnelId, siteId],
  );
  if (!rows[0]) throw notFound();
  return rows[0];
}

/** `period` of every answer: the local dates and the preset asked for. */
export const periodOf = (p: ResolvedPeriod) => ({ from: p.from, to: p.to, preset: p.preset });
