import { mkdirSync, rmSync } from 'node:fs';
import pg from 'pg';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePorts } from '../../infra/local/src/engines/ports';
import { dropDatabase } from '../../infra/local/src/engines/postgres';
import { REPO_ROOT, startEngines, type Engines } from '../../infra/local/src/stack';
import { uniqueSuffix, type StackEnv } from './names';

/**
 * Starts one stack of real engines for the integration run: its own Kafka broker and ClickHouse
 * engine host (fresh data folders, free ports), and a database of its own on the machine's
 * PostgreSQL and a key prefix of its own on its Redis (started from the Debian packages when not
 * running). Nothing is shared with another run or with `npm start`.
 */
let engines: Engines | undefined;
let databaseUrl: string | undefined;
let dir: string | undefined;

export async function setup(project: TestProject) {
  const run = uniqueSuffix();
  dir = join(REPO_ROOT, '.tidemark', `test-${run}`);
  mkdirSync(dir, { recursive: true });
  const [kafka, kafkaController, clickhouse, redis, postgres] = await freePorts(5);
  const pgBase = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const pgUrl = new URL(pgBase);
  pgUrl.pathname = `/tidemark_test_${run}`;
  databaseUrl = pgUrl.toString();
  engines = await startEngines({
    dir,
    ports: {
      kafka: kafka!,
      kafkaController: kafkaController!,
      clickhouse: clickhouse!,
      redis: redis!,
      postgres: postgres!,
    },
    databaseUrl,
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    clickhouseUrl: `http://127.0.0.1:${clickhouse}`,
    clickhouseDatabase: 'tidemark',
    redisPrefix: `tidemark-test-${run}`,
    topicEvents: `tidemark.events.v1.${run}`,
    topicDlq: `tidemark.events.dlq.${run}`,
    rawRetentionDays: 90,
    reuseClickHouse: false,
    logger: { info: (m) => console.log(`[stack] ${m}`) },
  });
  const env: StackEnv = {
    ...(engines.env as Omit<StackEnv, 'STACK_DIR'>),
    STACK_DIR: dir,
  };
  project.provide('stack', env);
}

/** Drops the run's database and every `freshPostgres()` database made from it. */
async function dropRunDatabases(url: string) {
  const runDb = new URL(url).pathname.slice(1);
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString() });
  await client.connect();
  let names: string[];
  try {
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`,
      [runDb, `${runDb}\_%`],
    );
    names = rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
  for (const name of names) {
    const target = new URL(url);
    target.pathname = `/${name}`;
    await dropDatabase(target.toString());
  }
}

export async function teardown() {
  // Before the engines stop: the stack may have started the PostgreSQL server itself.
  if (databaseUrl)
    await dropRunDatabases(databaseUrl).catch((err: Error) => console.warn(`[stack] ${err.message}`));
  await engines?.stop();
  if (dir && !process.env.KEEP_TEST_STACK) rmSync(dir, { recursive: true, force: true });
}
