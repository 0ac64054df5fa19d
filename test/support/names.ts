import { randomBytes } from 'node:crypto';

/** Connection settings of the per-run stack that the integration global setup started. */
export interface StackEnv {
  KAFKA_BROKERS: string;
  CLICKHOUSE_URL: string;
  CLICKHOUSE_DATABASE: string;
  DATABASE_URL: string;
  REDIS_URL: string;
  REDIS_PREFIX: string;
  KAFKA_TOPIC_EVENTS: string;
  KAFKA_TOPIC_DLQ: string;
  RAW_RETENTION_DAYS: string;
  /** Folder for this run's engine data and logs. */
  STACK_DIR: string;
}

/** A short unique suffix, so suites in one run never see each other's topics, tables or keys. */
export const uniqueSuffix = () => randomBytes(4).toString('hex');
