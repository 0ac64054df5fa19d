import Fastify, { type FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import { createPool, postgresComponent } from '@tidemark/db';
import { registerErrorHandler } from '@tidemark/http';
import { createLogger } from '@tidemark/logging';
import { createMetricsRegistry, registerOpsRoutes, runService, type Component } from '@tidemark/runtime';
import { loadConfig } from './config';
import { redisEvictionPolicy } from './redis-policy';

const config = loadConfig();
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
    const pool = createPool(config.DATABASE_URL, { max: 5, applicationName: 'tidemark-worker' });

    const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, disableRequestLogging: true });
    registerErrorHandler(app);
    const components: Component[] = [
      { name: 'http', onShutdown: () => app.close() },
      {
        name: 'redis',
        healthcheck: async () => {
          await redis.ping();
        },
        onShutdown: async () => {
          await redis.quit();
        },
      },
      postgresComponent(pool),
    ];
    registerOpsRoutes(app, { components: () => components, registry, isShuttingDown });
    await app.listen({ port: config.PORT, host: config.HOST });
    return { components };
  },
});
