import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPool, migratePostgres, withAdvisoryLock } from '@tidemark/db';
import { CLICKHOUSE_MIGRATION_LOCK_ID, migrateClickHouse } from '@tidemark/clickhouse';
import { ensureClickHouse } from './engines/clickhouse';
import type { EngineLogger, RunningEngine } from './engines/engine';
import { ensureKafkaJars, startKafka } from './engines/kafka';
import { ensurePostgres } from './engines/postgres';
import { ensureRedis } from './engines/redis';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface StackPorts {
  kafka: number;
  kafkaController: number;
  clickhouse: number;
  redis: number;
  postgres: number;
}

export interface StackOptions {
  /** Data and logs of every engine this stack starts. */
  dir: string;
  ports: StackPorts;
  /** Use these when something answers there; start our own otherwise. */
  databaseUrl: string;
  redisUrl: string;
  clickhouseUrl: string;
  /** Set to reuse a running broker instead of starting one. */
  kafkaBrokers?: string;
  clickhouseDatabase: string;
  redisPrefix: string;
  topicEvents: string;
  topicDlq: string;
  rawRetentionDays: number;
  /** Tests want a fresh engine host of their own even when one is already running. */
  reuseClickHouse: boolean;
  logger: EngineLogger;
}

export interface Engines {
  engines: RunningEngine[];
  /** What every service needs to reach the engines. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Brings up every engine that is not already reachable, then applies the migrations. */
export async function startEngines(opts: StackOptions): Promise<Engines> {
  mkdirSync(opts.dir, { recursive: true });
  const started: RunningEngine[] = [];
  const stop = async () => {
    for (const engine of [...started].reverse()) {
      await engine.stop().catch((err: Error) => opts.logger.info(`stopping ${engine.name}: ${err.message}`));
    }
  };
  try {
    const [postgres, redis] = await Promise.all([
      ensurePostgres({
        url: opts.databaseUrl,
        dataDir: join(opts.dir, 'postgres'),
        port: opts.ports.postgres,
      }),
      ensureRedis({ url: opts.redisUrl, dataDir: join(opts.dir, 'redis'), port: opts.ports.redis }),
    ]);
    started.push(postgres, redis);

    let kafkaUrl = opts.kafkaBrokers;
    if (!kafkaUrl) {
      await ensureKafkaJars(opts.logger);
      const kafka = await startKafka({
        dataDir: join(opts.dir, 'kafka'),
        port: opts.ports.kafka,
        controllerPort: opts.ports.kafkaController,
        logFile: join(opts.dir, 'kafka', 'broker.log'),
      });
      started.push(kafka);
      kafkaUrl = kafka.url;
    }

    const clickhouse = await ensureClickHouse({
      url: opts.clickhouseUrl,
      dataDir: join(opts.dir, 'clickhouse'),
      port: opts.ports.clickhouse,
      reuse: opts.reuseClickHouse,
    });
    started.push(clickhouse);

    const env: Record<string, string> = {
      KAFKA_BROKERS: kafkaUrl,
      KAFKA_TOPIC_EVENTS: opts.topicEvents,
      KAFKA_TOPIC_DLQ: opts.topicDlq,
      CLICKHOUSE_URL: clickhouse.url,
      CLICKHOUSE_DATABASE: opts.clickhouseDatabase,
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: opts.redisPrefix,
      RAW_RETENTION_DAYS: String(opts.rawRetentionDays),
    };
    await migrate(env);
    return { engines: started, env, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Applies PostgreSQL and ClickHouse migrations: the `npm run migrate` command and every start. */
export async function migrate(
  env: Record<string, string>,
): Promise<{ postgres: string[]; clickhouse: string[] }> {
  const pool = createPool(env.DATABASE_URL!, { max: 1, applicationName: 'tidemark-migrate' });
  try {
    const postgres = await migratePostgres(pool);
    const clickhouse = await migrateClickHouse(
      { url: env.CLICKHOUSE_URL!, database: env.CLICKHOUSE_DATABASE! },
      {
        rawRetentionDays: Number(env.RAW_RETENTION_DAYS ?? 90),
        lock: (work) => withAdvisoryLock(pool, CLICKHOUSE_MIGRATION_LOCK_ID, work),
      },
    );
    return { postgres, clickhouse };
  } finally {
    await pool.end();
  }
}

/**
 * Secrets a local stack needs (the session JWT key), made once per data folder and kept there, so
 * restarts keep sessions valid and nothing secret is committed.
 */
export function localSecrets(dir: string): Record<string, string> {
  const file = join(dir, 'secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  const secrets = { JWT_SECRET: randomBytes(32).toString('base64url') };
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}
