import { createClickHouse, insertEvents, type ClickHouse, type EventRow } from '@tidemark/clickhouse';
import { createPool, type Pool } from '@tidemark/db';
import { enrichedEventV1, eventMessageKey, type EnrichedEventV1 } from '@tidemark/events';
import { createKafka } from '@tidemark/kafka';
import { createLogger } from '@tidemark/logging';
import { createMetricsRegistry } from '@tidemark/runtime';
import type { Redis } from 'ioredis';
import { buildApp, type ApiApp } from '../src/app';
import { loadApiConfig, type ApiConfig } from '../src/config';
import { createRedis } from '../src/redis';
import type { StatsDebug } from '../src/stats/stats-context';
import { stackEnv, uniqueSuffix } from '../../../test/support/stack';
import { JWT_SECRET } from './helpers';

export interface StatsTestApi {
  app: ApiApp;
  pool: Pool;
  clickhouse: ClickHouse;
  config: ApiConfig;
  close(): Promise<void>;
}

/**
 * An api app on the run's stack whose stats routes use `stats` (a fixed clock, a forced source):
 * what `helpers.startApi` builds, with that one dependency more. Several of them may share one
 * PostgreSQL and one ClickHouse database, so a test can ask the same question of each.
 */
export async function startStatsApi(
  env: { DATABASE_URL: string; CLICKHOUSE_DATABASE: string } & Record<string, string>,
  stats: StatsDebug = {},
): Promise<StatsTestApi> {
  const stack = stackEnv();
  const config = loadApiConfig({
    ...stack,
    REDIS_PREFIX: `${stack.REDIS_PREFIX}:${uniqueSuffix()}`,
    JWT_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RATE_LIMIT_PER_IP_PER_MINUTE: '1000000',
    RATE_LIMIT_PER_TOKEN_PER_HOUR: '1000000',
    ...env,
  });
  const pool = createPool(config.DATABASE_URL, { max: 5 });
  const redis: Redis = createRedis(config.REDIS_URL);
  redis.on('error', () => {});
  await redis.connect().catch(() => {});
  const clickhouse = createClickHouse({ url: config.CLICKHOUSE_URL, database: config.CLICKHOUSE_DATABASE });
  const registry = createMetricsRegistry('api');
  const logger = createLogger({ name: 'api', level: config.LOG_LEVEL, format: 'json' });
  const app = buildApp({ pool, redis, clickhouse, config, logger, registry, stats });
  await app.ready();
  return {
    app,
    pool,
    clickhouse,
    config,
    async close() {
      await app.close();
      redis.disconnect();
      await clickhouse.close();
      await pool.end();
    },
  };
}

/**
 * Loads events the way the consumer does (`insertEvents`, so `sessions` and the rollups fill
 * through their materialized views), in several inserts so that `sessions` holds partial rows that
 * only merge at query time.
 */
export async function loadEvents(
  clickhouse: ClickHouse,
  rows: readonly Record<string, unknown>[],
  batches = 4,
): Promise<void> {
  for (let i = 0; i < batches; i++) {
    const part = rows.filter((_, j) => j % batches === i) as Partial<EventRow>[];
    if (part.length) await insertEvents(clickhouse, part, { dedupToken: `stats-test-${uniqueSuffix()}` });
  }
}

/** A query string from pairs, so a test can repeat a name or use `prop:plan`. */
export const qs = (params: Record<string, string | number | undefined>) =>
  new URLSearchParams(
    Object.entries(params).flatMap(([k, v]): Array<[string, string]> =>
      v === undefined ? [] : [[k, String(v)]],
    ),
  ).toString();

/**
 * Generated `events` rows as the messages ingest writes to Kafka (schema v1, validated here so a
 * mismatch fails the test instead of landing in the dead-letter topic), produced to `topic` in
 * ingest's order of arrival within each visitor (the message key).
 */
export async function produceEvents(
  env: Record<string, string>,
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  const messages = rows.map((row) => {
    const event: EnrichedEventV1 = enrichedEventV1.parse({
      ...row,
      v: 1,
      timestamp: `${String(row.timestamp).replace(' ', 'T')}Z`,
    });
    return { key: eventMessageKey(event), value: JSON.stringify(event) };
  });
  const logger = createLogger({ name: 'stats-test-producer', level: 'warn', format: 'json' });
  const producer = createKafka({
    brokers: env.KAFKA_BROKERS!.split(','),
    clientId: 'stats-test',
    logger,
  }).producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 2000) {
      await producer.send({
        topic: env.KAFKA_TOPIC_EVENTS!,
        acks: -1,
        messages: messages.slice(i, i + 2000),
      });
    }
  } finally {
    await producer.disconnect();
  }
}
