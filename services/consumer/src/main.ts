import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import {
  clickhouseComponent,
  createClickHouse,
  migrateClickHouse,
  type ClickHouseConfig,
} from '@tidemark/clickhouse';
import { createKafka, ensureTopics } from '@tidemark/kafka';
import { createLogger } from '@tidemark/logging';
import { createMetricsRegistry, registerOpsRoutes, runService, type Component } from '@tidemark/runtime';
import { loadConfig } from './config';
import { loadConfigOrExit } from '@tidemark/config';
import { EventLoader } from './event-loader';
import { createConsumerMetrics } from './metrics';

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
    const loader = new EventLoader({
      kafka,
      clickhouse,
      topic: config.KAFKA_TOPIC_EVENTS,
      dlqTopic: config.KAFKA_TOPIC_DLQ,
      groupId: config.CONSUMER_GROUP_ID,
      maxBatchEvents: config.BATCH_MAX_EVENTS,
      maxWaitMs: config.BATCH_MAX_WAIT_MS,
      minBytes: config.BATCH_MIN_BYTES,
      concurrency: config.CONSUMER_CONCURRENCY,
      sessionTimeoutMs: config.CONSUMER_SESSION_TIMEOUT_MS,
      pauseBeforeCommitMs: config.CONSUMER_TEST_PAUSE_BEFORE_COMMIT_MS,
      logger,
      metrics: createConsumerMetrics(registry),
      // Shut down cleanly and let the supervisor start a fresh process rather than idle without a consumer.
      onFatal: () => process.kill(process.pid, 'SIGTERM'),
    });

    const app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
    // Shutdown order: stop serving, finish and commit the batch in flight, then close ClickHouse.
    const components: Component[] = [
      { name: 'http', onShutdown: () => app.close() },
      loader.component(),
      clickhouseComponent(clickhouse),
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
      migrateClickHouse(clickhouseConfig, { rawRetentionDays: config.RAW_RETENTION_DAYS }),
    );
    await untilDone('join the consumer group', () => loader.start());
    logger.info(
      { topic: config.KAFKA_TOPIC_EVENTS, group: config.CONSUMER_GROUP_ID, port: config.PORT },
      'consumer started',
    );
    return { components };
  },
});
