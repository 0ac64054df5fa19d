import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePorts } from '../../infra/local/src/engines/ports';
import { dropDatabase } from '../../infra/local/src/engines/postgres';
import { REPO_ROOT, startEngines } from '../../infra/local/src/stack';
import { uniqueSuffix } from '../../test/support/names';
import type { WatchedProcess } from './cpu';

export interface BenchStack {
  env: Record<string, string>;
  dir: string;
  /**
   * Engine processes to watch: the ones this run started, and a reused PostgreSQL or Redis under a
   * `(shared)` name, since other work on the machine uses them too.
   */
  processes: WatchedProcess[];
  stop(): Promise<void>;
}

/** Deletes the run's keys from a Redis shared with other runs (queues, sessions, caches). */
async function dropRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** The postmaster of a PostgreSQL server on this machine, from its data directory's pid file. */
async function postgresPid(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ dir: string }>(`SELECT current_setting('data_directory') AS dir`);
    return Number.parseInt(readFileSync(`${rows[0]!.dir}/postmaster.pid`, 'utf8'), 10) || undefined;
  } finally {
    await client.end();
  }
}

async function redisPid(url: string): Promise<number | undefined> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]) || undefined;
  } finally {
    redis.disconnect();
  }
}

/** Real engines for one benchmark run, isolated like a test run: own broker, engine host, database. */
export async function startBenchStack(): Promise<BenchStack> {
  const run = uniqueSuffix();
  const dir = join(REPO_ROOT, '.tidemark', `bench-${run}`);
  const [kafka, kafkaController, clickhouse, redis, postgres] = await freePorts(5);
  // Always a database of the run's own (on DATABASE_URL's server when set), since stop() drops it.
  const server = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  server.pathname = `/tidemark_bench_${run}`;
  const databaseUrl = server.toString();
  const redisPrefix = `tidemark-bench-${run}`;
  const engines = await startEngines({
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
    redisPrefix,
    topicEvents: `tidemark.events.v1.bench${run}`,
    topicDlq: `tidemark.events.dlq.bench${run}`,
    rawRetentionDays: 90,
    reuseClickHouse: false,
    logger: { info: (m) => console.error(`[bench] ${m}`) },
  });
  const processes: WatchedProcess[] = [];
  for (const e of engines.engines) {
    if (e.pid) processes.push({ name: e.name, pid: e.pid });
    else {
      const lookup = e.name === 'postgres' ? postgresPid : e.name === 'redis' ? redisPid : undefined;
      // Only a server on this machine has a pid we can read; a remote one is simply not watched.
      const pid = await lookup?.(e.url).catch(() => undefined);
      if (pid) processes.push({ name: `${e.name} (shared)`, pid });
    }
  }
  return {
    env: engines.env,
    dir,
    processes,
    stop: async () => {
      await dropDatabase(engines.env.DATABASE_URL!).catch(() => {});
      await dropRedisKeys(engines.env.REDIS_URL!, redisPrefix).catch(() => {});
      await engines.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An account and one site in the run's database, as the api would make them; returns both ids. */
export async function seedSite(
  databaseUrl: string,
  name = 'Bench',
): Promise<{ siteId: string; siteKey: string; accountId: string }> {
  const siteKey = `sk_bench${uniqueSuffix()}${uniqueSuffix()}`;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; account_id: string }>(
      `WITH a AS (INSERT INTO accounts (name) VALUES ($3) RETURNING id)
       INSERT INTO sites (account_id, site_key, domain, name)
       SELECT a.id, $1, $2, $3 FROM a RETURNING id, account_id`,
      [siteKey, `${siteKey.slice(3)}.bench.example.com`, name],
    );
    return { siteId: rows[0]!.id, siteKey, accountId: rows[0]!.account_id };
  } finally {
    await client.end();
  }
}
