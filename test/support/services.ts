import { join } from 'node:path';
import { freePorts } from '../../infra/local/src/engines/ports';
import { startServiceDetached, type RunningService, type ServiceName } from '../../infra/local/src/services';
import { stackEnv, uniqueSuffix } from './stack';

export interface RunningPipeline {
  urls: Record<ServiceName, string>;
  /** Every process in the order asked for: a name listed twice (replicas) has two entries here. */
  instances: { name: ServiceName; url: string }[];
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * The real service processes (`services/<name>/src/main.ts`), as `npm start` runs them, against
 * this run's engines, with a ClickHouse database, PostgreSQL database, topic and consumer group of
 * their own. Logs go to the run's stack folder.
 */
export async function startPipeline(
  names: ServiceName[],
  extraEnv: Record<string, string> = {},
): Promise<RunningPipeline> {
  const stack = stackEnv();
  const run = uniqueSuffix();
  const pg = new URL(stack.DATABASE_URL);
  pg.pathname = `${pg.pathname}_${run}`;
  const env: Record<string, string> = {
    ...Object.fromEntries(Object.entries(stack).filter(([k]) => k !== 'STACK_DIR')),
    DATABASE_URL: pg.toString(),
    CLICKHOUSE_DATABASE: `e2e_${run}`,
    KAFKA_TOPIC_EVENTS: `tidemark.events.v1.e2e${run}`,
    KAFKA_TOPIC_DLQ: `tidemark.events.dlq.e2e${run}`,
    CONSUMER_GROUP_ID: `tidemark-consumer-e2e${run}`,
    REDIS_PREFIX: `${stack.REDIS_PREFIX}-e2e${run}`,
    JWT_SECRET: `e2e-secret-${run}-${'x'.repeat(32)}`,
    NODE_ENV: 'test',
    LOG_FORMAT: 'json',
    ...extraEnv,
  };
  const { createDatabase } = await import('../../infra/local/src/engines/postgres');
  const { migrate } = await import('../../infra/local/src/stack');
  await createDatabase(env.DATABASE_URL!);
  await migrate(env);
  const ports = await freePorts(names.length);
  const ingest = names.indexOf('ingest');
  // The api shows the tracker snippet with the ingest origin: this pipeline's, unless told otherwise.
  if (ingest >= 0) env.PUBLIC_INGEST_URL ??= `http://127.0.0.1:${ports[ingest]}`;
  const dir = join(stack.STACK_DIR, `pipeline-${run}`);
  const running: RunningService[] = [];
  const stop = async () => {
    for (const s of [...running].reverse()) await s.stop();
  };
  try {
    for (const [i, name] of names.entries()) {
      // A replica keeps its own log and pid files.
      const instanceDir = names.indexOf(name) === i ? dir : join(dir, `${name}-${i}`);
      running.push(await startServiceDetached({ name, port: ports[i]!, env }, instanceDir));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const urls = Object.fromEntries(running.map((s) => [s.name, s.url])) as Record<ServiceName, string>;
  const instances = running.map((s) => ({ name: s.name, url: s.url }));
  return { urls, instances, env, stop };
}
