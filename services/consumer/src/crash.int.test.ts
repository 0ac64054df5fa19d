import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouse, type ClickHouseConfig } from '@tidemark/clickhouse';
import { freshClickHouse } from '../../../test/support/stack';
import {
  countEvents,
  expectRollupsMatchRaw,
  expectSessionsMatchRaw,
  generateSite,
  produce,
  spawnConsumer,
  suiteNames,
  testKafka,
  waitForEvents,
  type ConsumerProcess,
  type GeneratedSite,
  type LogRecord,
} from './consumer.fixture';

/**
 * kill -9 of consumer processes inside the window between the ClickHouse insert and the offset
 * commit (widened by CONSUMER_TEST_PAUSE_BEFORE_COMMIT_MS): the next owner of the partition must
 * re-form the same batch, so ClickHouse drops it instead of counting it twice.
 */
describe('consumer: crashes between insert and commit', () => {
  const kafka = testKafka();
  let config: ClickHouseConfig;
  let clickhouse: ClickHouse;
  const running = new Set<ConsumerProcess>();

  beforeAll(async () => {
    config = await freshClickHouse();
    clickhouse = createClickHouse(config);
  });

  afterEach(async () => {
    await Promise.all([...running].map((c) => c.stop('SIGKILL')));
    running.clear();
  });

  afterAll(async () => {
    await clickhouse?.close();
  });

  const start = (names: ReturnType<typeof suiteNames>, pauseBeforeCommitMs: number) => {
    const consumer = spawnConsumer({
      CLICKHOUSE_DATABASE: config.database,
      KAFKA_TOPIC_EVENTS: names.topic,
      KAFKA_TOPIC_DLQ: names.dlqTopic,
      CONSUMER_GROUP_ID: names.groupId,
      BATCH_MAX_EVENTS: '150',
      // The broker's minimum: a killed member's partitions move on after 6 s instead of 30.
      CONSUMER_SESSION_TIMEOUT_MS: '6000',
      CONSUMER_TEST_PAUSE_BEFORE_COMMIT_MS: String(pauseBeforeCommitMs),
    });
    running.add(consumer);
    return consumer;
  };

  /** Produces one wave of visits at a time in the background, like steady traffic. */
  const produceSlowly = async (topic: string, site: GeneratedSite) => {
    for (const wave of site.waves) {
      await produce(kafka, topic, wave);
      await sleep(500);
    }
  };

  const storedNonEmptyBatch = (r: LogRecord) => r.msg === 'batch stored' && Number(r.events) > 0;
  const replayLogs = (c: ConsumerProcess) => c.logs().filter((r) => r.msg === 'replaying a planned batch');
  const replays = (c: ConsumerProcess) => replayLogs(c).length;
  const replaysAcrossPartitions = (c: ConsumerProcess) =>
    replayLogs(c).filter((r) => (r.ranges as string[]).length > 1).length;

  const expectExact = async (site: GeneratedSite, sessions: number) => {
    expect(await countEvents(clickhouse, site.siteId)).toEqual({
      rows: site.events.length,
      ids: site.events.length,
    });
    await expectRollupsMatchRaw(clickhouse, site.siteId);
    await expectSessionsMatchRaw(clickhouse, site.siteId, sessions);
  };

  it(
    'loses and duplicates nothing when killed again and again under load',
    { timeout: 360_000 },
    async () => {
      const names = suiteNames();
      const site = generateSite(300, 8);
      let producing: Promise<void> | undefined;
      let replayed = 0;
      let replayedAcrossPartitions = 0;
      for (let kill = 0; kill < 4; kill++) {
        const consumer = start(names, 1_500);
        await consumer.waitForLog((r) => r.msg === 'joined the consumer group', 90_000);
        producing ??= produceSlowly(names.topic, site);
        await consumer.waitForLog(storedNonEmptyBatch, 90_000);
        await consumer.stop('SIGKILL');
        running.delete(consumer);
        replayed += replays(consumer);
        replayedAcrossPartitions += replaysAcrossPartitions(consumer);
      }
      await producing;

      const last = start(names, 0);
      await waitForEvents(clickhouse, site.siteId, site.events.length, 180_000);
      replayed += replays(last);
      replayedAcrossPartitions += replaysAcrossPartitions(last);
      // Each kill left a stored, planned, uncommitted batch behind: the next process replayed it.
      expect(replayed).toBeGreaterThanOrEqual(4);
      // Each wave reaches all three partitions, so batches (and replays) span partitions.
      expect(replayedAcrossPartitions).toBeGreaterThanOrEqual(1);
      await expectExact(site, 300);
      expect(await last.stop('SIGTERM')).toBe(0);
    },
  );

  it(
    'keeps totals exact when one of two consumers in a group is killed mid-run',
    { timeout: 240_000 },
    async () => {
      const names = suiteNames();
      const site = generateSite(200, 8);
      const a = start(names, 500);
      const b = start(names, 500);
      await Promise.all(
        [a, b].map((c) => c.waitForLog((r) => r.msg === 'joined the consumer group', 90_000)),
      );
      const producing = produceSlowly(names.topic, site);
      await a.waitForLog(storedNonEmptyBatch, 90_000);
      await a.stop('SIGKILL');
      running.delete(a);
      await producing;

      await waitForEvents(clickhouse, site.siteId, site.events.length, 120_000);
      await expectExact(site, 200);
      // The survivor took over the killed member's partitions.
      const assignments = b.logs().filter((r) => r.msg === 'joined the consumer group');
      const last = assignments.at(-1)?.assignment as Record<string, number[]>;
      expect(last[names.topic]).toHaveLength(3);
      expect(await b.stop('SIGTERM')).toBe(0);
    },
  );
});
