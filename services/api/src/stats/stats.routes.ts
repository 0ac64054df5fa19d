import { pipeline } from 'node:stream';
import {
  aggregateQuery,
  aggregateResponse,
  breakdownQuery,
  breakdownResponse,
  exportQuery,
  funnelQuery,
  funnelResponse,
  heatmapQuery,
  heatmapResponse,
  realtimeQuery,
  realtimeResponse,
  timeseriesQuery,
  timeseriesResponse,
} from '@tidemark/api-schemas';
import type { ClickHouse } from '@tidemark/clickhouse';
import {
  buildAggregate,
  buildBreakdown,
  buildDailyExport,
  buildEventExport,
  buildFunnel,
  buildHeatmap,
  buildRealtime,
  buildTimeseries,
  comparisonPeriod,
  decodeFunnel,
  decodeScroll,
  DEFAULT_HEATMAP_GRID,
  fillTimeseries,
  metricChange,
  parseStatsQuery,
  readMetrics,
  type RawQuery,
  type StatsSqlContext,
} from '@tidemark/stats-query';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { requireSiteAccess, siteAccessOf } from '../auth/auth.plugin';
import { AUTHENTICATED_ERRORS, bearerAuth, errorResponses, type RouteContext } from '../routes/context';
import { loadFunnel, periodOf, statsContext, type StatsDebug, type StatsEnv } from './stats-context';
import {
  CLICKHOUSE_FORMATS,
  CONTENT_TYPES,
  contentDisposition,
  dailyLines,
  rowsToLines,
} from './stats-export';
import { summaryCatalogCache } from './summary-catalog';
import { StatsReader } from './stats-reader';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** API.md: the answer (any answer) carries `Cache-Control: no-store`. */
    noStore?: boolean;
  }
}

export interface StatsRouteOptions extends RouteContext {
  clickhouse: ClickHouse;
  registry: Registry;
  debug?: StatsDebug;
}

/** 404: the site is not visible to the caller; 422: raw events needed outside retention; 503: ClickHouse. */
const STATS_ERRORS = errorResponses(...AUTHENTICATED_ERRORS, 404, 422, 503);

const metaOf = (ctx: StatsSqlContext, fromRollups: boolean) => ({
  timezone: ctx.timezone,
  from_rollups: fromRollups,
});

/**
 * `GET /api/v1/stats/*` (API.md "Stats"). Every route authenticates, needs `stats:read` on the site
 * named by `site_id` (or implied by a site API key), parses its query string with
 * `parseStatsQuery` (400 naming the parameter) and answers from ClickHouse through the
 * `@tidemark/stats-query` builders, which choose rollups or raw events.
 */
export const statsRoutes: FastifyPluginAsyncZod<StatsRouteOptions> = async (app, opts) => {
  // Before authentication, so that every answer of realtime (a 401 included) is never cached.
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config.noStore) reply.header('cache-control', 'no-store');
  });
  app.authenticateRoutes();
  const reader = new StatsReader({
    clickhouse: opts.clickhouse,
    queryTimeoutSeconds: opts.config.STATS_QUERY_TIMEOUT_SECONDS,
    exportTimeoutSeconds: opts.config.STATS_EXPORT_TIMEOUT_SECONDS,
    registry: opts.registry,
  });
  const env: StatsEnv = {
    pool: opts.pool,
    reader,
    rawRetentionDays: opts.config.RAW_RETENTION_DAYS,
    summaries: summaryCatalogCache(reader),
    debug: opts.debug ?? {},
  };
  const access = requireSiteAccess('stats:read');
  const rows = (req: FastifyRequest, q: Parameters<StatsReader['rows']>[0]) => reader.rows(q, req.log);

  app.get(
    '/aggregate',
    {
      schema: {
        tags: ['stats'],
        summary: 'Metrics over a period, optionally compared with the previous period or year',
        security: bearerAuth,
        querystring: aggregateQuery,
        response: { 200: aggregateResponse, ...STATS_ERRORS },
      },
      preHandler: access,
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const q = parseStatsQuery('aggregate', req.query as RawQuery);
      const ctx = await statsContext(env, site, q, req.log);
      const current = buildAggregate(q, ctx);
      const previousPeriod = q.compare ? comparisonPeriod(ctx.period, q.compare, ctx.timezone) : undefined;
      const previous = previousPeriod ? buildAggregate(q, { ...ctx, period: previousPeriod }) : undefined;
      const [now, before] = await Promise.all([
        rows(req, current.sql),
        previous ? rows(req, previous.sql) : undefined,
      ]);
      const metrics = readMetrics(now[0], q.metrics);
      let comparison;
      if (previousPeriod && previous && before) {
        const old = readMetrics(before[0], q.metrics);
        comparison = {
          period: periodOf(previousPeriod),
          metrics: old,
          change: Object.fromEntries(q.metrics.map((m) => [m, metricChange(m, metrics[m]!, old[m]!)])),
        };
      }
      return {
        period: periodOf(ctx.period),
        metrics,
        ...(comparison ? { comparison } : {}),
        meta: metaOf(ctx, current.plan.fromRollups || (previous?.plan.fromRollups ?? false)),
      };
    },
  );

  app.get(
    '/timeseries',
    {
      schema: {
        tags: ['stats'],
        summary: 'Metrics per hour, day, week or month, every bucket of the period included',
        security: bearerAuth,
        querystring: timeseriesQuery,
        response: { 200: timeseriesResponse, ...STATS_ERRORS },
      },
      preHandler: access,
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const q = parseStatsQuery('timeseries', req.query as RawQuery);
      const ctx = await statsContext(env, site, q, req.log);
      const built = buildTimeseries(q, ctx);
      const results = fillTimeseries(built.buckets, await rows(req, built.sql), q.metrics);
      return {
        period: periodOf(ctx.period),
        interval: built.interval,
        results,
        meta: metaOf(ctx, built.plan.fromRollups),
      };
    },
  );

  app.get(
    '/breakdown',
    {
      schema: {
        tags: ['stats'],
        summary: 'Metrics per value of a property, sorted and paged',
        security: bearerAuth,
        querystring: breakdownQuery,
        response: { 200: breakdownResponse, ...STATS_ERRORS },
      },
      preHandler: access,
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const q = parseStatsQuery('breakdown', req.query as RawQuery);
      const ctx = await statsContext(env, site, q, req.log, { needsGoals: q.property === 'goal' });
      const built = buildBreakdown(q, ctx);
      const page = await rows(req, built.sql);
      // Every row carries the count; past the last page there is no row to carry it.
      const counted = page[0] ?? (q.pageNumber > 1 ? (await rows(req, built.countSql))[0] : undefined);
      const totalRows = Number(counted?.total_rows ?? 0);
      return {
        property: q.property,
        period: periodOf(ctx.period),
        results: page.map((r) => ({ value: String(r.value), ...readMetrics(r, q.metrics) })),
        pagination: {
          page_number: q.pageNumber,
          limit: q.limit,
          total_rows: totalRows,
          total_pages: Math.ceil(totalRows / q.limit),
        },
        meta: metaOf(ctx, built.plan.fromRollups),
      };
    },
  );

  app.get(
    '/realtime',
    {
      schema: {
        tags: ['stats'],
        summary: 'Visitors with an event in the last minutes',
        security: bearerAuth,
        querystring: realtimeQuery,
        response: { 200: realtimeResponse, ...STATS_ERRORS },
      },
      config: { noStore: true },
      preHandler: access,
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const q = parseStatsQuery('realtime', req.query as RawQuery);
      const ctx = await statsContext(env, site, q, req.log);
      const [row] = await rows(req, buildRealtime(q, ctx));
      return { current_visitors: Number(row?.current_visitors ?? 0), window_minutes: q.minutes };
    },
  );

  app.get(
    '/funnel',
    {
      schema: {
        tags: ['stats'],
        summary: "Visitors through a funnel's steps, in order, within its window",
        security: bearerAuth,
        querystring: funnelQuery,
        response: { 200: funnelResponse, ...STATS_ERRORS },
      },
      preHandler: access,
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const q = parseStatsQuery('funnel', req.query as RawQuery);
      const funnel = await loadFunnel(env.pool, site.id, q.funnelId);
      const ctx = await statsContext(env, site, q, req.log, {
        needsGoals: funnel.steps.some((s) => s.type === 'goal'),
      });
      const built = buildFunnel(
        { steps: funnel.steps, filters: q.filters, windowSeconds: funnel.window_minutes * 60 },
        ctx,
      );
      const result = decodeFunnel(await rows(req, built.sql), funnel.steps);
      return {
        funnel: { id: funnel.id, name: funnel.name, window_minutes: funnel.window_minutes },
        period: periodOf(ctx.period),
        ...result,
        meta: metaOf(ctx, built.plan.fromRollups),
      };
    },
  );

  app.get(
    '/heatmap',
    {
      schema: {
        tags: ['stats'],
        summary: 'Clicks on a normalized grid of a page, or how far its visitors scrolled',
        security: bearerAuth,
        querystring: heatmapQuery,
        response: { 200: heatmapResponse, ...STATS_ERRORS },
      },
      preHandler: access,
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const q = parseStatsQuery('heatmap', req.query as RawQuery);
      const ctx = await statsContext(env, site, q, req.log);
      const built = buildHeatmap(q, ctx);
      const result = await rows(req, built.sql);
      const common = { page: q.page, period: periodOf(ctx.period) };
      const meta = metaOf(ctx, built.plan.fromRollups);
      if (q.type === 'scroll')
        return { ...common, type: 'scroll' as const, results: decodeScroll(result), meta };
      return {
        ...common,
        type: 'click' as const,
        grid_size: DEFAULT_HEATMAP_GRID,
        results: result.map((r) => ({ x: Number(r.x), y: Number(r.y), clicks: Number(r.clicks) })),
        meta,
      };
    },
  );

  app.get(
    '/export',
    {
      schema: {
        tags: ['stats'],
        summary: 'Raw events or daily metrics of a period as CSV or NDJSON, streamed',
        description:
          'The body is streamed as ClickHouse produces it (never held whole); an error after it started ends the connection without the final chunk, so a truncated file is never mistaken for a complete one.',
        security: bearerAuth,
        querystring: exportQuery,
        // A stream is never serialized: this only documents the answer.
        response: {
          200: z.unknown().meta({ description: 'text/csv or application/x-ndjson, one row per line' }),
          ...STATS_ERRORS,
        },
      },
      preHandler: access,
    },
    async (req, reply) => {
      const { site } = siteAccessOf(req);
      const q = parseStatsQuery('export', req.query as RawQuery);
      const ctx = await statsContext(env, site, q, req.log);
      // Set only once the body is there: a refusal before it is JSON like any other.
      const asFile = () =>
        reply
          .header('content-type', CONTENT_TYPES[q.format])
          .header('content-disposition', contentDisposition(site, q, ctx.period));
      if (q.type === 'daily') {
        const built = buildDailyExport(q, ctx);
        const lines = dailyLines(built.buckets, await rows(req, built.sql), q.format);
        return asFile().send(lines);
      }
      const built = buildEventExport(q, ctx);
      // Stops the query when the client goes away before the end.
      const gone = new AbortController();
      reply.raw.once('close', () => gone.abort());
      const source = await reader.stream(built.sql, CLICKHOUSE_FORMATS[q.format], gone.signal, req.log);
      const body = pipeline(source, rowsToLines(), (err) => {
        if (err && !gone.signal.aborted) req.log.error({ err }, 'event export failed while streaming');
      });
      return asFile().send(body);
    },
  );
};
