import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouse } from '@tidemark/clickhouse';
import { createPool, type Pool } from '@tidemark/db';
import type { EnrichedEventV1 } from '@tidemark/events';
import {
  createSiteEventsQueue,
  siteConfigChannel,
  type SiteEventsJob,
  type SiteEventsQueue,
} from '@tidemark/queues';
import { Redis } from 'ioredis';
import type { RunningEngine } from '../../../infra/local/src/engines/engine';
import { freePort } from '../../../infra/local/src/engines/ports';
import { ensureRedis } from '../../../infra/local/src/engines/redis';
import { freshClickHouse, freshPostgres, stackEnv, uniqueSuffix, waitFor } from '../../../test/support/stack';
import {
  countEvents,
  generateSite,
  produce,
  spawnConsumer,
  suiteNames,
  testKafka,
  waitForEvents,
  type ConsumerProcess,
} from './consumer.fixture';

/**
 * After a batch is stored the consumer enqueues the worker's jobs (goal completions, webhook
 * fan-out) before committing; batches that call for none never wait on Redis.
 */

async function createSiteRow(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `WITH a AS (INSERT INTO accounts (name) VALUES ('Notify test') RETURNING id)
     INSERT INTO sites (account_id, site_key, domain, name)
     SELECT id, $1, 'notify.example.com', 'Notify' FROM a RETURNING id`,
    [`sk_${randomBytes(12).toString('hex')}`],
  );
  return rows[0]!.id;
}

/** Events of one visit on `siteId`, with the names and paths given. */
function visit(siteId: string, specs: Array<{ name: string; pathname?: string }>): EnrichedEventV1[] {
  return generateSite(1, specs.length).events.map((e, i) => ({
    ...e,
    site_id: siteId,
    name: specs[i]!.name,
    pathname: specs[i]!.pathname ?? '/',
    props: {},
    revenue_amount: null,
    revenue_currency: '',
  }));
}

async function jobsOf(queue: SiteEventsQueue): Promise<Array<{ id: string; data: SiteEventsJob }>> {
  const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed']);
  return jobs.map((j) => ({ id: j.id!, data: j.data as SiteEventsJob }));
}

describe('consumer: telling the worker about stored events', () => {
  const names = suiteNames();
  const kafka = testKafka();
  const redisPrefix = `${stackEnv().REDIS_PREFIX}-n${uniqueSuffix()}`;
  let databaseUrl: string;
  let pool: Pool;
  let clickhouse: ClickHouse;
  let consumer: ConsumerProcess;
  let queue: SiteEventsQueue;
  let publisher: Redis;

  beforeAll(async () => {
    databaseUrl = await freshPostgres();
    pool = createPool(databaseUrl, { max: 2 });
    const config = await freshClickHouse();
    clickhouse = createClickHouse(config);
    queue = createSiteEventsQueue({ url: stackEnv().REDIS_URL, prefix: redisPrefix });
    publisher = new Redis(stackEnv().REDIS_URL);
    consumer = spawnConsumer({
      CLICKHOUSE_DATABASE: config.database,
      DATABASE_URL: databaseUrl,
      REDIS_PREFIX: redisPrefix,
      // Long: a change must reach the consumer through the invalidation, not the expiry.
      SITE_CONFIG_TTL_MS: '600000',
      KAFKA_TOPIC_EVENTS: names.topic,
      KAFKA_TOPIC_DLQ: names.dlqTopic,
      CONSUMER_GROUP_ID: names.groupId,
    });
    await consumer.waitForLog((r) => r.msg === 'joined the consumer group');
  });

  afterAll(async () => {
    await consumer?.stop('SIGKILL');
    publisher?.disconnect();
    await queue?.close();
    await clickhouse?.close();
    await pool?.end();
  });

  it('enqueues goal completions and subscribed events once stored, and follows the api’s changes', async () => {
    const siteId = await createSiteRow(pool);
    await pool.query(`INSERT INTO goals (site_id, name, event_name) VALUES ($1, 'Signup', 'signup')`, [
      siteId,
    ]);
    await pool.query(`INSERT INTO goals (site_id, name, page_path) VALUES ($1, 'Docs', '/docs/*')`, [siteId]);
    await pool.query(
      `INSERT INTO webhook_subscriptions (site_id, url, events, secret)
       VALUES ($1, 'https://hooks.example.com/', '{event,goal.completed}', 'whsec_dGVzdA==')`,
      [siteId],
    );
    const events = visit(siteId, [
      { name: 'pageview', pathname: '/docs/start' },
      { name: 'signup' },
      { name: 'pageview', pathname: '/pricing' },
      { name: 'download' },
    ]);
    const unknownSite = visit(randomUUID(), [{ name: 'signup' }]);
    await produce(kafka, names.topic, [...events, ...unknownSite]);
    await waitForEvents(clickhouse, siteId, events.length);

    const jobs = await waitFor(
      async () => {
        const all = await jobsOf(queue);
        return all.length >= 3 ? all : undefined;
      },
      { timeout: 30_000, message: 'three site-events jobs' },
    );
    const goals = jobs.filter((j) => j.data.type === 'goal-completed').map((j) => j.data);
    expect(goals).toEqual(
      expect.arrayContaining([
        {
          type: 'goal-completed',
          siteId,
          goalName: 'Docs',
          eventId: events[0]!.event_id,
          at: events[0]!.timestamp,
        },
        {
          type: 'goal-completed',
          siteId,
          goalName: 'Signup',
          eventId: events[1]!.event_id,
          at: events[1]!.timestamp,
        },
      ]),
    );
    expect(goals).toHaveLength(2);
    const fanouts = jobs.filter((j) => j.data.type === 'fanout-events');
    // Only custom events: the subscription does not ask for pageviews.
    const fanned = fanouts.flatMap((j) => (j.data.type === 'fanout-events' ? j.data.events : []));
    expect(fanned.map((e) => e.name).sort()).toEqual(['download', 'signup']);
    expect(fanouts.every((j) => j.id.startsWith(`fanout_${siteId}_${names.topic}-`))).toBe(true);

    // A goal added through the api reaches the consumer through Redis, well before the cache expires.
    await pool.query(`INSERT INTO goals (site_id, name, event_name) VALUES ($1, 'Download', 'download')`, [
      siteId,
    ]);
    await publisher.publish(siteConfigChannel(redisPrefix), siteId);
    const later = visit(siteId, [{ name: 'download' }]);
    await produce(kafka, names.topic, later);
    await waitForEvents(clickhouse, siteId, events.length + 1);
    await waitFor(
      async () =>
        (await jobsOf(queue)).some(
          (j) =>
            j.data.type === 'goal-completed' &&
            j.data.eventId === later[0]!.event_id &&
            j.data.goalName === 'Download',
        )
          ? true
          : undefined,
      { timeout: 30_000, message: 'the new goal’s completion' },
    );
    expect(await countEvents(clickhouse, siteId)).toEqual({
      rows: events.length + 1,
      ids: events.length + 1,
    });
  });
});

describe('consumer: Redis down', () => {
  const names = suiteNames();
  const kafka = testKafka();
  const redisPrefix = `tidemark-redis-down-${uniqueSuffix()}`;
  const dataDir = join(stackEnv().STACK_DIR, `redis-down-${uniqueSuffix()}`);
  let redisPort: number;
  let redis: RunningEngine | undefined;
  let redisUrl: string;
  let pool: Pool;
  let clickhouse: ClickHouse;
  let consumer: ConsumerProcess;
  let opsPort: number;

  const startRedis = async () => {
    redis = await ensureRedis({ url: redisUrl, dataDir, port: redisPort });
  };

  beforeAll(async () => {
    [redisPort, opsPort] = [await freePort(), await freePort()];
    redisUrl = `redis://127.0.0.1:${redisPort}`;
    await startRedis();
    const databaseUrl = await freshPostgres();
    pool = createPool(databaseUrl, { max: 2 });
    const config = await freshClickHouse();
    clickhouse = createClickHouse(config);
    consumer = spawnConsumer({
      CLICKHOUSE_DATABASE: config.database,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: redisPrefix,
      KAFKA_TOPIC_EVENTS: names.topic,
      KAFKA_TOPIC_DLQ: names.dlqTopic,
      CONSUMER_GROUP_ID: names.groupId,
      PORT: String(opsPort),
    });
    await consumer.waitForLog((r) => r.msg === 'joined the consumer group');
  });

  afterAll(async () => {
    await consumer?.stop('SIGKILL');
    await clickhouse?.close();
    await pool?.end();
    await redis?.stop();
  });

  it(
    'keeps loading batches that need no job, holds the others, and enqueues them once Redis is back',
    { timeout: 240_000 },
    async () => {
      const siteId = await createSiteRow(pool);
      await pool.query(`INSERT INTO goals (site_id, name, event_name) VALUES ($1, 'Signup', 'signup')`, [
        siteId,
      ]);
      // Seen once while Redis is up, so its config is cached.
      await produce(kafka, names.topic, visit(siteId, [{ name: 'pageview' }]));
      await waitForEvents(clickhouse, siteId, 1);

      await redis!.stop();
      const quiet = visit(randomUUID(), [{ name: 'pageview' }, { name: 'signup' }]);
      await produce(kafka, names.topic, quiet);
      await waitForEvents(clickhouse, quiet[0]!.site_id, quiet.length);

      const signup = visit(siteId, [{ name: 'signup' }]);
      await produce(kafka, names.topic, signup);
      await consumer.waitForLog(
        (r) => r.msg === 'could not notify the worker of a stored batch; retrying',
        60_000,
      );
      // Stored, not yet committed, and the consumer stays ready: Redis is not critical for it.
      await waitForEvents(clickhouse, siteId, 2);
      const ready = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { checks: Record<string, { ok: boolean }> }).checks.redis?.ok).toBe(
        false,
      );

      await startRedis();
      const queue = createSiteEventsQueue({ url: redisUrl, prefix: redisPrefix });
      try {
        const job = await waitFor(
          async () => (await jobsOf(queue)).find((j) => j.data.type === 'goal-completed'),
          { timeout: 120_000, interval: 500, message: 'the goal job after Redis came back' },
        );
        expect(job.data).toMatchObject({ siteId, goalName: 'Signup', eventId: signup[0]!.event_id });
      } finally {
        await queue.close();
      }
      // The retried batch was not stored twice.
      expect(await countEvents(clickhouse, siteId)).toEqual({ rows: 2, ids: 2 });
    },
  );
});
