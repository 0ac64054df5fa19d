import { clickhouseComponent, createClickHouse } from '@tidemark/clickhouse';
import { loadConfigOrExit } from '@tidemark/config';
import { createPool, migratePostgres, postgresComponent } from '@tidemark/db';
import { createLogger } from '@tidemark/logging';
import { createMetricsRegistry, runService } from '@tidemark/runtime';
import { buildApp } from './app';
import { loadApiConfig } from './config';
import { createRedis, redisComponent } from './redis';

const config = loadConfigOrExit('api', loadApiConfig);
const logger = createLogger({ name: 'api', level: config.LOG_LEVEL, format: config.LOG_FORMAT });

await runService({
  name: 'api',
  logger,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  start: async ({ isShuttingDown }) => {
    const pool = createPool(config.DATABASE_URL, { applicationName: 'tidemark-api' });
    const applied = await migratePostgres(pool);
    if (applied.length) logger.info({ applied }, 'applied postgres migrations');

    const redis = createRedis(config.REDIS_URL);
    redis.on('error', (err) => logger.debug({ err }, 'redis connection error'));
    // Redis only backs rate limits and cache invalidations: start without it and keep retrying.
    await redis
      .connect()
      .catch((err) => logger.warn({ err }, 'redis unreachable at start; rate limits fail open'));

    const clickhouse = createClickHouse({
      url: config.CLICKHOUSE_URL,
      database: config.CLICKHOUSE_DATABASE,
      username: config.CLICKHOUSE_USER,
      password: config.CLICKHOUSE_PASSWORD,
    });
    const registry = createMetricsRegistry('api');

    const app = buildApp({ pool, redis, clickhouse, config, logger, registry, isShuttingDown });
    await app.listen({ port: config.PORT, host: config.HOST });

    return {
      // Stop taking requests first (closing the app also flushes token usage), then the clients.
      components: [
        { name: 'http', onShutdown: () => app.close() },
        redisComponent(redis),
        clickhouseComponent(clickhouse),
        postgresComponent(pool),
      ],
    };
  },
});
