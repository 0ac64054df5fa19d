import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import { createDummyHash, createSessionTokens } from '@tidemark/auth';
import { clickhouseComponent, type ClickHouse } from '@tidemark/clickhouse';
import { postgresComponent, type Pool } from '@tidemark/db';
import { ApiError, registerErrorHandler, responseSerializerCompiler } from '@tidemark/http';
import type { Logger } from '@tidemark/logging';
import { registerOpsRoutes } from '@tidemark/runtime';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchemaValidationError,
} from 'fastify';
import { jsonSchemaTransform, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { Histogram, type Registry } from 'prom-client';
import { authPlugin, countsAgainstIp } from './auth/auth.plugin';
import { createPrincipalCache } from './auth/principal-cache';
import { createRateLimits } from './auth/rate-limit';
import { createShareTokens } from './auth/share-token';
import { TokenUsageRecorder } from './auth/token-usage';
import { createCacheInvalidation } from './cache/invalidation';
import type { ApiConfig } from './config';
import { dashboardPlugin, DEFAULT_DASHBOARD_DIR } from './dashboard/dashboard.plugin';
import { redisComponent } from './redis';
import { accessTokenRoutes } from './routes/access-tokens.routes';
import { accountRoutes } from './routes/account.routes';
import { activityRoutes } from './routes/activity.routes';
import { alertRoutes } from './routes/alerts.routes';
import { apiKeyRoutes } from './routes/api-keys.routes';
import { authRoutes } from './routes/auth.routes';
import { configRoutes } from './routes/config.routes';
import type { RouteContext } from './routes/context';
import { funnelRoutes } from './routes/funnels.routes';
import { goalRoutes } from './routes/goals.routes';
import { shareRoutes } from './routes/share.routes';
import { siteRoutes } from './routes/sites.routes';
import { teamRoutes } from './routes/team.routes';
import { webhookRoutes } from './routes/webhooks.routes';
import { createSiteAnalytics } from './sites/analytics';
import { createSiteListCache } from './sites/site-list-cache';
import { createSiteLookupCache } from './sites/site-lookup-cache';
import { createSiteRulesPublisher } from './sites/site-rules';
import { siteConfigPlugin } from './site-config/site-config.plugin';
import type { StatsDebug } from './stats/stats-context';
import { statsRoutes } from './stats/stats.routes';

/** What stats routes (and any later site-scoped routes) use to authorize. */
export { requireSiteAccess, siteAccessOf } from './auth/auth.plugin';
export { requirePermission, type Principal, type UserPrincipal } from './auth/principal';
export { resolveSiteAccess, type SiteAccess, type SiteAccessOptions } from './auth/site-access';
export { recordActivity, type ActivityEntry, type Actor } from './activity';
export type { RouteContext } from './routes/context';

export interface AppDeps {
  pool: Pool;
  redis: Redis;
  clickhouse: ClickHouse;
  config: ApiConfig;
  logger: Logger;
  registry: Registry;
  /** From runService: /readyz answers 503 once shutdown began. */
  isShuttingDown?: () => boolean;
  /** Tests only: the stats routes' clock and forced data source (never reachable from a request). */
  stats?: StatsDebug;
  /** The dashboard's Vite build; served at / when it exists. Default: services/api/dashboard/dist. */
  dashboardDir?: string;
}

/** Admin bodies are small; anything bigger is a mistake or an attack (413). */
const BODY_LIMIT_BYTES = 64 * 1024;

/**
 * Schema failures in the contract's terms: a bad body is 422 with `details` per field (unknown fields
 * included), a bad query parameter is 400 naming it, and a malformed path id is simply not found.
 */
function schemaErrorFormatter(errors: FastifySchemaValidationError[], dataVar: string): Error {
  // No prototype: a client's field may be called `constructor` or `toString` like any other.
  const details: Record<string, string[]> = Object.create(null);
  for (const e of errors) {
    const path = e.instancePath.split('/').filter(Boolean).join('.');
    const unknownKeys =
      e.keyword === 'unrecognized_keys' ? ((e.params as { keys?: string[] }).keys ?? []) : [];
    if (unknownKeys.length) {
      for (const key of unknownKeys)
        (details[path ? `${path}.${key}` : key] ??= []).push('is not a known field');
    } else {
      (details[path || dataVar] ??= []).push(e.message ?? 'is invalid');
    }
  }
  if (dataVar === 'params') return new ApiError('not_found', 'no such resource');
  if (dataVar === 'body') return ApiError.validation(details);
  const [name, messages] = Object.entries(details)[0] ?? [dataVar, ['is invalid']];
  const message =
    messages[0] === 'is not a known field'
      ? `unknown query parameter: ${name}`
      : `query parameter ${name}: ${messages[0]}`;
  return new ApiError('invalid_request', message, details);
}

/**
 * Fastify's own refusals while routing, which bypass the error handler: a path that is not valid
 * percent-encoded UTF-8, or a path parameter longer than the router takes. Such a path names
 * nothing, like a malformed path id (404), and the answer has the contract's one shape.
 */
function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const routing = err.code === 'FST_ERR_BAD_URL' || err.code === 'FST_ERR_MAX_PARAM_LENGTH';
  if (!routing) req.log.error({ err }, 'request failed while routing');
  const apiError = routing
    ? new ApiError('not_found', 'no such resource')
    : new ApiError('internal_error', 'internal error');
  return reply.code(apiError.status).send(apiError.toBody());
}

/** A hop count becomes "trust the first N hops", as proxy-addr means it (fastify's types omit numbers). */
const trustProxyOption = (value: ApiConfig['TRUST_PROXY']) =>
  typeof value === 'number' ? (_address: string, hop: number) => hop < value : value;

export function buildApp(deps: AppDeps) {
  const { pool, redis, clickhouse, config, logger, registry } = deps;

  const base = Fastify({
    // Typed as fastify's logger interface so the instance type matches what the shared libs take.
    loggerInstance: logger as FastifyBaseLogger,
    // One access line per request (the onResponse hook below) instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: trustProxyOption(config.TRUST_PROXY),
    bodyLimit: BODY_LIMIT_BYTES,
    schemaErrorFormatter,
    frameworkErrors,
  });
  registerErrorHandler(base);
  const app = base.withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(responseSerializerCompiler);
  // JSON only: without this, a text/plain body would reach the validators as a string.
  app.removeContentTypeParser('text/plain');

  const duration = new Histogram({
    name: 'tidemark_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    duration.observe(
      { method: req.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    req.log.info(
      {
        method: req.method,
        url: req.url,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  app.register(cors, {
    origin: '*',
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type'],
    // One string, not a list the plugin would join again on every request.
    exposedHeaders:
      'X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, WWW-Authenticate',
    credentials: false,
    maxAge: 86_400,
  });

  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tidemark API',
        version: '1.0.0',
        description: 'Admin and stats API. Errors are `{"error": {"code", "message", "details"?}}`.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
  });

  registerOpsRoutes(base, {
    registry,
    isShuttingDown: deps.isShuttingDown ?? (() => false),
    components: () => [
      postgresComponent(pool),
      redisComponent(redis),
      // Not critical for the api: admin routes degrade without it (events_this_month is null), and
      // stats routes answer 503 themselves; taking every replica out of the balancer helps no one.
      { ...clickhouseComponent(clickhouse), critical: false },
    ],
  });
  app.get('/docs', { schema: { hide: true } }, async () => app.swagger());
  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger());

  const sessions = createSessionTokens({ secret: config.JWT_SECRET, ttlHours: config.SESSION_TTL_HOURS });
  const usage = new TokenUsageRecorder(pool, logger, config.TOKEN_USAGE_FLUSH_SECONDS * 1000);
  app.addHook('onClose', async () => usage.close());
  const rateLimits = createRateLimits({
    redis,
    redisPrefix: config.REDIS_PREFIX,
    perTokenPerHour: config.RATE_LIMIT_PER_TOKEN_PER_HOUR,
    perIpPerMinute: config.RATE_LIMIT_PER_IP_PER_MINUTE,
    logger,
    registry,
  });
  const shares = createShareTokens({ secret: config.JWT_SECRET });
  const caches = createCacheInvalidation({
    listen: config.AUTH_CACHE_TTL_MS > 0 || config.SITE_ACCESS_CACHE_TTL_MS > 0,
    redisUrl: config.REDIS_URL,
    redisPrefix: config.REDIS_PREFIX,
    publisher: redis,
    logger,
    registry,
  });
  app.addHook('onClose', async () => caches.close());
  const authCache = createPrincipalCache(caches, { ttlMs: config.AUTH_CACHE_TTL_MS });
  const siteLookups = createSiteLookupCache(caches, { ttlMs: config.SITE_ACCESS_CACHE_TTL_MS });
  app.register(authPlugin, { pool, sessions, rateLimits, usage, shares, cache: authCache, siteLookups });

  const ctx: RouteContext = {
    pool,
    config,
    sessions,
    analytics: createSiteAnalytics({ clickhouse, logger, registry }),
    siteRules: createSiteRulesPublisher({ redis, redisPrefix: config.REDIS_PREFIX, logger, registry }),
    caches,
    siteLists: createSiteListCache(caches, { ttlMs: config.SITE_ACCESS_CACHE_TTL_MS }),
    dummyPasswordHash: createDummyHash(),
  };

  app.register(
    async (api) => {
      api.addHook('onRequest', async (req, reply) => {
        if (countsAgainstIp(req)) await rateLimits.byIp(req.ip, reply);
      });
      api.register(authRoutes, { ...ctx, prefix: '/auth' });
      api.register(accountRoutes, { ...ctx, prefix: '/account' });
      api.register(accessTokenRoutes, { ...ctx, prefix: '/access-tokens' });
      api.register(siteRoutes, { ...ctx, prefix: '/sites' });
      api.register(apiKeyRoutes, { ...ctx, prefix: '/sites/:site/api-keys' });
      api.register(teamRoutes, { ...ctx, prefix: '/sites/:site/team' });
      api.register(activityRoutes, { ...ctx, prefix: '/activity' });
      api.register(configRoutes, { ...ctx, prefix: '/config' });
      api.register(shareRoutes, { ...ctx, shares, prefix: '/share' });
      api.register(siteConfigPlugin, { config });
      api.register(goalRoutes, { ...ctx, prefix: '/sites/:site/goals' });
      api.register(funnelRoutes, { ...ctx, prefix: '/sites/:site/funnels' });
      api.register(alertRoutes, { ...ctx, prefix: '/sites/:site/alerts' });
      api.register(webhookRoutes, { ...ctx, prefix: '/sites/:site/webhooks' });
      api.register(statsRoutes, { ...ctx, clickhouse, registry, debug: deps.stats, prefix: '/stats' });
    },
    { prefix: '/api/v1' },
  );
  app.register(dashboardPlugin, { dir: deps.dashboardDir ?? DEFAULT_DASHBOARD_DIR, pool, rateLimits });

  return app;
}

export type ApiApp = ReturnType<typeof buildApp>;
