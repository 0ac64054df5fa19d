import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClickHouse,
  migrateClickHouse,
  type ClickHouse,
  type ClickHouseConfig,
} from '@tidemark/clickhouse';
import { startClickHouseHost } from '../../../infra/local/src/engines/clickhouse';
import type { RunningEngine } from '../../../infra/local/src/engines/engine';
import { freePort } from '../../../infra/local/src/engines/ports';
import { stackEnv, uniqueSuffix, waitFor } from '../../../test/support/stack';
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
} from './consumer.fixture';

/**
 * The consumer's ClickHouse goes away mid-run and comes back: batches wait (paused, retried with
 * backoff, never committed), /readyz names ClickHouse meanwhile, and nothing is lost or doubled.
 * The engine host here is this suite's own, so stopping it does not disturb other suites.
 */
describe('consumer: ClickHouse stopped and started mid-run', () => {
  const names = suiteNames();
  const kafka = testKafka();
  const dataDir = join(stackEnv().STACK_DIR, `clickhouse-outage-${uniqueSuffix()}`);
  let host: RunningEngine | undefined;
  let port: number;
  let config: ClickHouseConfig;
  let clickhouse: ClickHouse;
  let consumer: ConsumerProcess;
  let opsPort: number;

  beforeAll(async () => {
    [port, opsPort] = [await freePort(), await freePort()];
    host = await startClickHouseHost({ dataDir, port });
    config = { url: host.url, database: 'tidemark' };
    await migrateClickHouse(config, { rawRetentionDays: Number(stackEnv().RAW_RETENTION_DAYS) });
    clickhouse = createClickHouse(config);
    consumer = spawnConsumer({
      CLICKHOUSE_URL: host.url,
      CLICKHOUSE_DATABASE: config.database,
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
    await host?.stop();
  });

  it(
    'holds batches while ClickHouse is down and loads them exactly once when it is back',
    { timeout: 240_000 },
    async () => {
      const site = generateSite(120, 4);
      const [before, ...after] = site.waves;
      await produce(kafka, names.topic, before!);
      await waitForEvents(clickhouse, site.siteId, before!.length);

      await host!.stop();
      await produce(kafka, names.topic, after.flat());
      await consumer.waitForLog((r) => r.msg === 'could not store a batch; retrying', 60_000);
      const readiness = await waitFor(async () => {
        const res = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
        return res.status === 503 ? ((await res.json()) as { error: { message: string } }) : undefined;
      });
      expect(readiness.error.message).toMatch(/clickhouse/);

      host = await startClickHouseHost({ dataDir, port });
      await waitForEvents(clickhouse, site.siteId, site.events.length, 120_000);
      expect(await countEvents(clickhouse, site.siteId)).toEqual({
        rows: site.events.length,
        ids: site.events.length,
      });
      await expectRollupsMatchRaw(clickhouse, site.siteId);
      await expectSessionsMatchRaw(clickhouse, site.siteId, 120);
      await waitFor(async () =>
        (await fetch(`http://127.0.0.1:${opsPort}/readyz`)).status === 200 ? true : undefined,
      );
    },
  );
});
