import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import { clickhouseComponent, createClickHouse } from '@tidemark/clickhouse';
import { loadConfigOrExit } from '@tidemark/config';
import { createPool, postgresComponent } from '@tidemark/db';
import { registerErrorHandler } from '@tidemark/http';
import { createLogger } from '@tidemark/logging';
import { createMetricsRegistry, registerOpsRoutes, runService, type Component } from '@tidemark/runtime';
import { createWebhookHttpClient } from '@tidemark/webhooks';
import { loadConfig } from './config';
import { redisEvictionPolicy } from './redis-policy';
import { startJobWorkers } from './worker';

/** How long one summary build statement may take (see `summariesClickhouse`). */
const SUMMARY_BUILD_TIMEOUT_MS = 30 * 60_000;

const config = loadConfigOrExit('worker', loadConfig);
const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL, format: config.LOG_FORMAT });

await runService({
  name: 'worker',
  logger,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  start: async ({ isShuttingDown }) => {
    const registry = createMetricsRegistry('worker');
    // BullMQ workers block on Redis; they need `maxRetriesPerRequest: null`.
    const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
    redis.on('error', (err) => logger.debug({ err: err.message }, 'redis'));
    const policy = await redisEvictionPolicy(redis).catch(() => 'unknown');
    if (policy !== 'noeviction') {
      logger.warn(
        { policy },
        'Redis maxmemory-policy is not noeviction: queued jobs can be evicted under memory pressure',
      );
    }
    const pool = createPool(config.DATABASE_URL, { max: 10, applicationName: 'tidemark-worker' });
    const clickhouseConfig = {
      url: config.CLICKHOUSE_URL,
      database: config.CLICKHOUSE_DATABASE,
      username: config.CLICKHOUSE_USER,
      password: config.CLICKHOUSE_PASSWORD,
    };
    const clickhouse = createClickHouse(clickhouseConfig);
    // A month's build reads that month of every site (~1 s for 11 M events on the embedded engine);
    // under the default 30 s a large deployment's build would fail on every run and never land.
    const summariesClickhouse = createClickHouse({
      ...clickhouseConfig,
      requestTimeoutMs: SUMMARY_BUILD_TIMEOUT_MS,
    });
    const http = createWebhookHttpClient({
      allowPrivateTargets: config.WEBHOOK_ALLOW_PRIVATE_TARGETS,
      timeoutMs: config.WEBHOOK_TIMEOUT,
    });
    if (config.WEBHOOK_ALLOW_PRIVATE_TARGETS) {
      logger.warn('WEBHOOK_ALLOW_PRIVATE_TARGETS is on: webhooks may reach private and loopback addresses');
    }

    const app = Fastify({
      loggerInstance: logger as FastifyBaseLogger,
      // Only probes and scrapes call the ops server: no line per request.
      logController: new LogController({ disableRequestLogging: true }),
    });
    registerErrorHandler(app);
    const jobWorkers = await startJobWorkers({
      config,
      logger,
      registry,
      pool,
      clickhouse,
      summariesClickhouse,
      http,
    });
    const components: Component[] = [
      { name: 'http', onShutdown: () => app.close() },
      ...jobWorkers,
      { name: 'webhook-http', onShutdown: () => http.close() },
      {
        name: 'redis',
        healthcheck: async () => {
          await redis.ping();
        },
        onShutdown: async () => {
          await redis.quit();
        },
      },
      // Only threshold alerts need ClickHouse: without it deliveries still flow.
      { ...clickhouseComponent(clickhouse), critical: false },
      { name: 'clickhouse-summaries', critical: false, onShutdown: () => summariesClickhouse.close() },
      postgresComponent(pool),
    ];

    registerOpsRoutes(app, { components: () => components, registry, isShuttingDown });
    await app.listen({ port: config.PORT, host: config.HOST });
    logger.info({ port: config.PORT }, 'worker started');
    return { components };
  },
});
