import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import {
  CLICKHOUSE_MIGRATION_LOCK_ID,
  clickhouseComponent,
  createClickHouse,
  migrateClickHouse,
  type ClickHouseConfig,
} from '@tidemark/clickhouse';
import { createPool, postgresComponent, withAdvisoryLock } from '@tidemark/db';
import { createKafka, ensureTopics } from '@tidemark/kafka';
import { createLogger } from '@tidemark/logging';
import { createSiteEventsQueue } from '@tidemark/queues';
import { createMetricsRegistry, registerOpsRoutes, runService, type Component } from '@tidemark/runtime';
import { Redis } from 'ioredis';
import { loadConfig } from './config';
import { loadConfigOrExit } from '@tidemark/config';
import { EventLoader } from './event-loader';
import { createConsumerMetrics } from './metrics';
import { BatchNotifier } from './notifications';
import { SiteConfigCache } from './site-config';

const config = loadConfigOrExit('consumer', loadConfig);
const logger = createLogger({ name: 'consumer', level: config.LOG_LEVEL, format: config.LOG_FORMAT });

/** Start-up steps wait for an engine that is still coming up instead of crash-looping the process. */
async function untilDone(what: string, step: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await step();
      return;
    } catch (err) {
      logger.warn({ err: (err as Error).message, attempt }, `could not ${what} yet; retrying`);
      await sleep(Math.min(5_000, 200 * 2 ** attempt));
    }
  }
}

await runService({
  name: 'consumer',
  logger,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  start: async ({ isShuttingDown }) => {
    const registry = createMetricsRegistry('consumer');
    const kafka = createKafka({
      brokers: config.KAFKA_BROKERS,
      clientId: `${config.KAFKA_CLIENT_ID}-consumer`,
      logger,
    });
    const clickhouseConfig: ClickHouseConfig = {
      url: config.CLICKHOUSE_URL,
      database: config.CLICKHOUSE_DATABASE,
      username: config.CLICKHOUSE_USER,
      password: config.CLICKHOUSE_PASSWORD,
    };
    const clickhouse = createClickHouse(clickhouseConfig);
    const metrics = createConsumerMetrics(registry);

    // PostgreSQL and Redis only matter for batches with something to tell the worker: neither is
    // awaited here, and their outages hold (and retry) only those batches.
    const pool = createPool(config.DATABASE_URL, { max: 4, applicationName: 'tidemark-consumer' });
    const siteEvents = createSiteEventsQueue({ url: config.REDIS_URL, prefix: config.REDIS_PREFIX });
    siteEvents.on('error', (err) => logger.debug({ err: err.message }, 'redis (site-events queue)'));
    const subscriber = new Redis(config.REDIS_URL, {
      retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000),
    });
    subscriber.on('error', (err) => logger.debug({ err: err.message }, 'redis (site config invalidations)'));
    const siteConfigs = new SiteConfigCache({
      pool,
      ttlMs: config.SITE_CONFIG_TTL_MS,
      logger,
      onStale: (sites) => metrics.siteConfigStale.inc(sites),
    });
    void siteConfigs
      .subscribe(subscriber, config.REDIS_PREFIX)
      .catch((err: Error) =>
        logger.warn(
          { err: err.message },
          'site config invalidations not subscribed yet; the cache TTL bounds staleness',
        ),
      );

    const loader = new EventLoader({
      kafka,
      clickhouse,
      topic: config.KAFKA_TOPIC_EVENTS,
      dlqTopic: config.KAFKA_TOPIC_DLQ,
      groupId: config.CONSUMER_GROUP_ID,
      maxBatchEvents: config.BATCH_MAX_EVENTS,
      maxWaitMs: config.BATCH_MAX_WAIT_MS,
      minBytes: config.BATCH_MIN_BYTES,
      maxBytes: config.FETCH_MAX_BYTES,
      concurrency: config.CONSUMER_CONCURRENCY,
      sessionTimeoutMs: config.CONSUMER_SESSION_TIMEOUT_MS,
      pauseBeforeCommitMs: config.CONSUMER_TEST_PAUSE_BEFORE_COMMIT_MS,
      logger,
      metrics,
      notifier: new BatchNotifier({ configs: siteConfigs, queue: siteEvents, metrics, timeoutMs: 10_000 }),
      // Shut down cleanly and let the supervisor start a fresh process rather than idle without a consumer.
      onFatal: () => process.kill(process.pid, 'SIGTERM'),
    });

    const app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
    // Shutdown order: stop serving, finish (notify) and commit the batch in flight, then the clients.
    // Redis and PostgreSQL are not critical for readiness: without them most batches still load.
    const components: Component[] = [
      { name: 'http', onShutdown: () => app.close() },
      loader.component(),
      {
        name: 'redis',
        critical: false,
        healthcheck: async () => {
          if (subscriber.status !== 'ready') throw new Error(`redis connection is ${subscriber.status}`);
        },
        onShutdown: async () => {
          await siteEvents.close();
          subscriber.disconnect();
        },
      },
      clickhouseComponent(clickhouse),
      { ...postgresComponent(pool), critical: false },
    ];
    registerOpsRoutes(app, { components: () => components, registry, isShuttingDown });
    // Serve /readyz first, so an operator sees which engine start-up is waiting for.
    await app.listen({ port: config.PORT, host: config.HOST });

    await untilDone('create the Kafka topics', () =>
      ensureTopics(kafka, [
        { topic: config.KAFKA_TOPIC_EVENTS, numPartitions: config.TOPIC_PARTITIONS },
        { topic: config.KAFKA_TOPIC_DLQ, numPartitions: 1 },
      ]),
    );
    await untilDone('migrate ClickHouse', () =>
      migrateClickHouse(clickhouseConfig, {
        rawRetentionDays: config.RAW_RETENTION_DAYS,
        // Replicas starting together: one applies each migration, the others wait for it.
        lock: (work) => withAdvisoryLock(pool, CLICKHOUSE_MIGRATION_LOCK_ID, work),
      }),
    );
    await untilDone('join the consumer group', () => loader.start());
    logger.info(
      { topic: config.KAFKA_TOPIC_EVENTS, group: config.CONSUMER_GROUP_ID, port: config.PORT },
      'consumer started',
    );
    return { components };
  },
});
