import { Redis } from 'ioredis';
import { createPool, postgresComponent } from '@tidemark/db';
import { openGeoDatabase } from '@tidemark/enrichment';
import { createKafka, ensureTopics } from '@tidemark/kafka';
import { loadConfigOrExit } from '@tidemark/config';
import { createLogger } from '@tidemark/logging';
import { createMetricsRegistry, runService, type Component } from '@tidemark/runtime';
import { buildApp } from './app';
import { loadConfig } from './config';
import { EventSink } from './event-sink';
import { SiteDirectory } from './site-directory';
import { VisitorIdentity } from './visitor-identity';

const config = loadConfigOrExit('ingest', loadConfig);
const logger = createLogger({ name: 'ingest', level: config.LOG_LEVEL, format: config.LOG_FORMAT });

await runService({
  name: 'ingest',
  logger,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  start: async ({ isShuttingDown }) => {
    const registry = createMetricsRegistry('ingest');
    const kafka = createKafka({
      brokers: config.KAFKA_BROKERS,
      clientId: `${config.KAFKA_CLIENT_ID}-ingest`,
      logger,
    });
    const pool = createPool(config.DATABASE_URL, { max: 5, applicationName: 'tidemark-ingest' });
    // Fail fast rather than queue: a beacon must not wait on a Redis that is down (sessions degrade instead).
    const redisOptions = {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 500,
      retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000),
    };
    // Session lookups of concurrent requests share one write and one read (a syscall each on a
    // busy host is the larger part of their cost).
    const redis = new Redis(config.REDIS_URL, { ...redisOptions, enableAutoPipelining: true });
    const subscriber = new Redis(config.REDIS_URL, {
      ...redisOptions,
      enableOfflineQueue: true,
      commandTimeout: undefined,
    });
    for (const client of [redis, subscriber])
      client.on('error', (err) => logger.debug({ err: err.message }, 'redis'));

    await ensureTopics(kafka, [
      { topic: config.KAFKA_TOPIC_EVENTS, numPartitions: config.TOPIC_PARTITIONS },
    ]).catch((err: Error) => logger.warn({ err: err.message }, 'could not ensure the events topic yet'));
    const sink = new EventSink({
      kafka,
      topic: config.KAFKA_TOPIC_EVENTS,
      logger,
      registry,
      maxInflight: config.MAX_INFLIGHT_EVENTS,
      ackTimeoutMs: config.KAFKA_ACK_TIMEOUT_MS,
      lingerMs: config.KAFKA_LINGER_MS,
      batchMax: config.KAFKA_BATCH_MAX,
      compression: config.KAFKA_COMPRESSION,
    });
    sink.start();
    const sites = new SiteDirectory(pool, config.SITE_CACHE_TTL_MS, logger);
    void sites
      .subscribe(subscriber, config.REDIS_PREFIX)
      .catch((err: Error) =>
        logger.warn(
          { err: err.message },
          'site rules invalidation not subscribed yet; the cache TTL bounds staleness',
        ),
      );
    const identity = new VisitorIdentity(
      redis,
      config.REDIS_PREFIX,
      config.SESSION_TIMEOUT_MINUTES * 60,
      logger,
    );
    const geo = await openGeoDatabase();

    const http: Component = { name: 'http' };
    const components: Component[] = [
      http,
      sink.component(),
      { name: 'site-rules', onShutdown: async () => subscriber.disconnect() },
      identity.component(),
      postgresComponent(pool),
      { name: 'geoip', onShutdown: async () => geo.close() },
    ];
    const app = await buildApp({
      config,
      logger,
      registry,
      sites,
      sink,
      identity,
      geo,
      components: () => components,
      isShuttingDown,
    });
    http.onShutdown = () => app.close();
    await app.listen({ port: config.PORT, host: config.HOST });
    return { components };
  },
});
