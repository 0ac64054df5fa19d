import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouse, type ClickHouseConfig } from '@tidemark/clickhouse';
import { freshClickHouse, waitFor } from '../../../test/support/stack';
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
describe('consumer: crashes and rebalances between insert and commit', () => {
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

  const joinedGroup = (r: LogRecord) => r.msg === 'joined the consumer group';
  const joins = (c: ConsumerProcess) => c.logs().filter(joinedGroup).length;
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
        await consumer.waitForLog(joinedGroup, 90_000);
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
    'commits nothing for a batch a rebalance took away, and keeps totals exact as members come and go',
    { timeout: 240_000 },
    async () => {
      const names = suiteNames();
      const site = generateSite(300, 8);
      // a waits 3 s between storing each batch and committing it: the rebalance b causes finds
      // batches of a stored and uncommitted, whose partitions b may load to the end meanwhile.
      const a = start(names, 3_000);
      await a.waitForLog(joinedGroup, 90_000);
      await produce(kafka, names.topic, site.events);
      await a.waitForLog(storedNonEmptyBatch, 90_000);
      const b = start(names, 0);
      await b.waitForLog(joinedGroup, 90_000);
      await waitForEvents(clickhouse, site.siteId, site.events.length, 120_000);
      // Everything is stored; once every batch is committed the group's offsets are the log's
      // ends, and stay there. A late commit of a batch of a's assignment before the rebalance
      // would move a partition b loaded since back to where that batch ended, with no plan.
      const admin = kafka.admin();
      await admin.connect();
      const committedAtEnd = async () => {
        const [ends, [committed]] = await Promise.all([
          admin.fetchTopicOffsets(names.topic),
          admin.fetchOffsets({ groupId: names.groupId, topics: [names.topic] }),
        ]);
        const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
        return ends.every((e) => at.get(e.partition) === e.offset);
      };
      try {
        await waitFor(async () => (await committedAtEnd()) || undefined, {
          timeout: 90_000,
          interval: 500,
          message: 'the group to commit every stored batch',
        });
        // Past every commit pause a began before the rebalance.
        await sleep(4_000);
        expect(await committedAtEnd()).toBe(true);
      } finally {
        await admin.disconnect();
      }
      const joinsBefore = joins(b);
      expect(await a.stop('SIGTERM')).toBe(0);
      running.delete(a);
      // b reads every partition from the committed offsets: nothing is left to load, or replay.
      await b.waitForLog((r) => joinedGroup(r) && joins(b) > joinsBefore, 90_000);
      await sleep(2_000);
      await expectExact(site, 300);
      expect(await b.stop('SIGTERM')).toBe(0);
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
      await Promise.all([a, b].map((c) => c.waitForLog(joinedGroup, 90_000)));
      const producing = produceSlowly(names.topic, site);
      await a.waitForLog(storedNonEmptyBatch, 90_000);
      await a.stop('SIGKILL');
      running.delete(a);
      await producing;

      await waitForEvents(clickhouse, site.siteId, site.events.length, 120_000);
      await expectExact(site, 200);
      // The survivor took over the killed member's partitions.
      const assignments = b.logs().filter(joinedGroup);
      const last = assignments.at(-1)?.assignment as Record<string, number[]>;
      expect(last[names.topic]).toHaveLength(3);
      expect(await b.stop('SIGTERM')).toBe(0);
    },
  );
});
