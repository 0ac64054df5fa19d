import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Pool } from '@tidemark/db';
import type { GeoDatabase } from '@tidemark/enrichment';
import { createKafka, ensureTopics } from '@tidemark/kafka';
import { createLogger } from '@tidemark/logging';
import { createMetricsRegistry } from '@tidemark/runtime';
import { stackEnv, uniqueSuffix } from '../../../test/support/stack';
import { buildApp } from './app';
import { EventSink } from './event-sink';
import { SiteDirectory } from './site-directory';
import { VisitorIdentity } from './visitor-identity';

/**
 * The ingest app of the tests: the real app with real clients (Kafka, Redis, PostgreSQL of the
 * test stack, or the ones given) on a topic of its own, and a clock the test can move.
 */
const logger = createLogger({ name: 'ingest-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface IngestHarness {
  app: FastifyInstance;
  topic: string;
  clock: { now: Date };
  close: () => Promise<void>;
}

export interface IngestHarnessOptions {
  pool: Pool;
  geo: GeoDatabase;
  brokers?: string[];
  redisUrl?: string;
  sessionTimeoutSeconds?: number;
  ackTimeoutMs?: number;
}

/** A site row with the given ingest rules, in an account of its own. */
export async function createSite(pool: Pool, settings: Partial<Record<string, string[]>> = {}) {
  const key = `sk_${uniqueSuffix()}${uniqueSuffix()}`;
  const { rows } = await pool.query<{ id: string }>(
    `WITH a AS (INSERT INTO accounts (name) VALUES ('test') RETURNING id)
     INSERT INTO sites (account_id, site_key, domain, name, excluded_ips, excluded_paths, excluded_countries, allowed_hostnames)
     SELECT a.id, $1, $2, 'Test', $3, $4, $5, $6 FROM a RETURNING id`,
    [
      key,
      `${uniqueSuffix()}.example.com`,
      settings.excluded_ips ?? [],
      settings.excluded_paths ?? [],
      settings.excluded_countries ?? [],
      settings.allowed_hostnames ?? [],
    ],
  );
  return { id: rows[0]!.id, key };
}

export async function startIngestHarness(opts: IngestHarnessOptions): Promise<IngestHarness> {
  const env = stackEnv();
  const brokers = opts.brokers ?? env.KAFKA_BROKERS.split(',');
  const topic = `ingest-test-${uniqueSuffix()}`;
  const kafka = createKafka({ brokers, clientId: 'ingest-test', logger });
  await ensureTopics(kafka, [{ topic, numPartitions: 3 }]);
  const registry = createMetricsRegistry('ingest');
  const redis = new Redis(opts.redisUrl ?? env.REDIS_URL, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 500,
    enableAutoPipelining: true,
  });
  redis.on('error', () => {});
  const sink = new EventSink({
    kafka,
    topic,
    logger,
    registry,
    maxInflight: 1_000,
    ackTimeoutMs: opts.ackTimeoutMs ?? 5_000,
    lingerMs: 2,
    batchMax: 500,
    compression: 'gzip',
  });
  sink.start();
  const identity = new VisitorIdentity(
    redis,
    `${env.REDIS_PREFIX}-${uniqueSuffix()}`,
    opts.sessionTimeoutSeconds ?? 1800,
    logger,
  );
  const sites = new SiteDirectory(opts.pool, 30_000, logger);
  const clock = { now: new Date() };
  const components = [sink.component(), identity.component()];
  const app = await buildApp({
    config: { TRUST_PROXY: '', CORS_ENABLED: true, EXTRA_BOT_PATTERNS: [] },
    logger,
    registry,
    sites,
    sink,
    identity,
    geo: opts.geo,
    components: () => components,
    now: () => clock.now,
  });
  return {
    app,
    topic,
    clock,
    close: async () => {
      await app.close();
      for (const c of components) await c.onShutdown?.();
    },
  };
}
