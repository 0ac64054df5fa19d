import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEngine } from './engine';
import { ensureKafkaJars, startKafka } from './kafka';
import { canConnect, freePort, freePorts } from './ports';
import { createDatabase, dropDatabase, ensurePostgres, findPostgresBinaries } from './postgres';
import { commandLine, isAlive } from './process';
import { ensureRedis } from './redis';

// Engines started by a test; stopped after each test even when an assertion failed.
const running: RunningEngine[] = [];
let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tidemark-engines-'));
  // A PostgreSQL cluster started as root belongs to the postgres OS user, who must reach it.
  chmodSync(root, 0o755);
});

afterEach(async () => {
  for (const engine of running.splice(0).reverse()) await engine.stop();
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

async function started(engine: Promise<RunningEngine>): Promise<RunningEngine> {
  const value = await engine;
  running.push(value);
  return value;
}

/** Stops a started engine and checks that its process is gone. */
async function stopAndCheck(engine: RunningEngine): Promise<void> {
  const index = running.indexOf(engine);
  if (index >= 0) running.splice(index, 1);
  await engine.stop();
  expect(engine.pid).toBeDefined();
  expect(isAlive(engine.pid as number)).toBe(false);
  expect(commandLine(engine.pid as number)).toBeUndefined();
}

const suffix = () => randomBytes(4).toString('hex');

describe('kafka', () => {
  beforeAll(async () => {
    await ensureKafkaJars(console);
  }, 600_000);

  async function consumeOne(brokers: string, topic: string): Promise<string> {
    const consumer = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).consumer({
      groupId: `engines-test-${suffix()}`,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      return await new Promise<string>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) });
      });
    } finally {
      await consumer.disconnect();
    }
  }

  it('produces and consumes, stops, and keeps its topics across a restart', async () => {
    const dataDir = join(root, 'kafka');
    const [port, controllerPort] = (await freePorts(2)) as [number, number];
    const options = { dataDir, port, controllerPort, logFile: join(dataDir, 'broker.log') };
    const topic = `engines-test-${suffix()}`;

    const first = await started(startKafka(options));
    expect(first.url).toBe(`127.0.0.1:${port}`);
    expect(commandLine(first.pid as number)).toContain('kafka.Kafka');
    const kafka = new Kafka({ brokers: [first.url], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'hello' }] });
    await producer.disconnect();
    expect(await consumeOne(first.url, topic)).toBe('hello');
    await stopAndCheck(first);

    const second = await started(startKafka(options));
    expect(second.pid).not.toBe(first.pid);
    expect(await consumeOne(second.url, topic)).toBe('hello');
    await stopAndCheck(second);
  }, 180_000);
});

describe('redis', () => {
  it('starts redis-server when nothing answers, is reused once it answers, and stop() kills it', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const own = await started(ensureRedis({ url, dataDir: join(root, 'redis'), port }));
    expect(own.url).toBe(url);
    expect(own.pid).toBeDefined();

    const client = new Redis(own.url, { lazyConnect: true });
    await client.connect();
    expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    client.disconnect();

    const reused = await ensureRedis({ url, dataDir: join(root, 'redis-unused'), port: await freePort() });
    expect(reused).toMatchObject({ name: 'redis', url });
    expect(reused.pid).toBeUndefined();
    await reused.stop();
    expect(await canConnect('127.0.0.1', port)).toBe(true);

    await stopAndCheck(own);
    expect(await canConnect('127.0.0.1', port)).toBe(false);
  }, 60_000);
});

describe('postgres', () => {
  async function databaseExists(url: string, name: string): Promise<boolean> {
    const maintenance = new URL(url);
    maintenance.pathname = '/postgres';
    const client = new pg.Client({ connectionString: maintenance.toString() });
    await client.connect();
    try {
      const result = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      return result.rowCount === 1;
    } finally {
      await client.end();
    }
  }

  it('reuses a running server, creates the database, and dropDatabase removes it', async () => {
    // The machine's server when it runs; otherwise the first call starts one and the second reuses it.
    const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
    base.pathname = `/tidemark_engines_${suffix()}`;
    const server = await started(
      ensurePostgres({ url: base.toString(), dataDir: join(root, 'pg-reuse'), port: await freePort() }),
    );
    await dropDatabase(server.url);

    // Mixed case and a hyphen need identifier quoting.
    const name = `Tidemark-Engines-${suffix()}`;
    const url = new URL(server.url);
    url.pathname = `/${encodeURIComponent(name)}`;
    const reused = await ensurePostgres({
      url: url.toString(),
      dataDir: join(root, 'pg-unused'),
      port: await freePort(),
    });
    expect(reused.pid).toBeUndefined();
    expect(await databaseExists(reused.url, name)).toBe(true);
    await createDatabase(reused.url);

    const session = new pg.Client({ connectionString: reused.url });
    session.on('error', () => {});
    await session.connect();
    await dropDatabase(reused.url);
    expect(await databaseExists(reused.url, name)).toBe(false);
    await session.end().catch(() => {});
  }, 60_000);

  it.skipIf(!findPostgresBinaries())(
    'initialises and starts a cluster when nothing answers, and keeps its data across a restart',
    async () => {
      const port = await freePort();
      const options = {
        url: `postgres://postgres@127.0.0.1:${port}/tidemark`,
        dataDir: join(root, 'pg-own'),
        port,
      };
      const first = await started(ensurePostgres(options));
      expect(first.url).toBe(options.url);
      const client = new pg.Client({ connectionString: first.url });
      await client.connect();
      await client.query('CREATE TABLE kept (id int)');
      await client.end();
      await stopAndCheck(first);

      const second = await started(ensurePostgres(options));
      const again = new pg.Client({ connectionString: second.url });
      await again.connect();
      expect((await again.query('SELECT count(*)::int AS n FROM kept')).rows).toEqual([{ n: 0 }]);
      await again.end();
      await stopAndCheck(second);
    },
    60_000,
  );
});
