import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, SESSIONS_TABLE, type ClickHouse } from '@tidemark/clickhouse';
import { eventMessageKey } from '@tidemark/events';
import { freePort } from '../../../infra/local/src/engines/ports';
import { freshClickHouse, waitFor } from '../../../test/support/stack';
import {
  countEvents,
  expectRollupsMatchRaw,
  expectSessionsMatchRaw,
  generateSite,
  partialSessionRows,
  produce,
  spawnConsumer,
  suiteNames,
  testKafka,
  waitForEvents,
  type ConsumerProcess,
} from './consumer.fixture';

describe('consumer: loading events into ClickHouse', () => {
  const names = suiteNames();
  const kafka = testKafka();
  let clickhouse: ClickHouse;
  let consumer: ConsumerProcess;
  let port: number;

  beforeAll(async () => {
    const config = await freshClickHouse();
    clickhouse = createClickHouse(config);
    port = await freePort();
    consumer = spawnConsumer({
      CLICKHOUSE_DATABASE: config.database,
      KAFKA_TOPIC_EVENTS: names.topic,
      KAFKA_TOPIC_DLQ: names.dlqTopic,
      CONSUMER_GROUP_ID: names.groupId,
      PORT: String(port),
    });
    await consumer.waitForLog((r) => r.msg === 'joined the consumer group');
  });

  afterAll(async () => {
    await consumer?.stop('SIGKILL');
    await clickhouse?.close();
  });

  it('loads every event exactly once, with sessions and rollups equal to raw', async () => {
    const site = generateSite(150, 6);
    let produced = 0;
    // Partial visit rows stay apart, so the count below shows the visits were spread over batches.
    await clickhouse.command({ query: `SYSTEM STOP MERGES ${SESSIONS_TABLE}` });
    // One wave at a time, each loaded before the next: every visit is spread over several batches.
    for (const wave of site.waves) {
      await produce(kafka, names.topic, wave);
      produced += wave.length;
      await waitForEvents(clickhouse, site.siteId, produced);
    }
    expect(await countEvents(clickhouse, site.siteId)).toEqual({ rows: produced, ids: produced });
    expect(await partialSessionRows(clickhouse, site.siteId)).toBeGreaterThan(150);
    await expectRollupsMatchRaw(clickhouse, site.siteId);
    await expectSessionsMatchRaw(clickhouse, site.siteId, 150);
    await clickhouse.command({ query: `SYSTEM START MERGES ${SESSIONS_TABLE}` });
  });

  it('stores a batch whose session ids fall in more months than one insert may touch by default', async () => {
    // sessions_v3 is partitioned by the month in the session id; ClickHouse refuses an insert
    // touching over 100 partitions unless told otherwise, which would stall the partition for good.
    const site = generateSite(300, 2, 'random');
    await produce(kafka, names.topic, site.events);
    await waitForEvents(clickhouse, site.siteId, site.events.length);
    await expectRollupsMatchRaw(clickhouse, site.siteId);
    await expectSessionsMatchRaw(clickhouse, site.siteId, 300);
  });

  it('dead-letters poison messages with the reason and keeps loading their partition', async () => {
    const site = generateSite(5, 4);
    const [first, ...rest] = site.events;
    // Same key as the site's first visitor: the poison sits in the middle of that visitor's partition.
    const key = eventMessageKey(first!);
    await produce(kafka, names.topic, [
      first!,
      { key, value: '{"v":1,' },
      { key, value: JSON.stringify({ ...first, event_id: 'not-a-uuid' }) },
      ...rest,
    ]);
    await waitForEvents(clickhouse, site.siteId, site.events.length);

    const deadLetters: Array<{ value: string; headers: Record<string, string> }> = [];
    const reader = kafka.consumer({ groupId: `${names.groupId}-dlq-reader` });
    await reader.connect();
    await reader.subscribe({ topics: [names.dlqTopic], fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
        );
        deadLetters.push({ value: String(message.value), headers });
      },
    });
    try {
      await waitFor(() => (deadLetters.length >= 2 ? true : undefined), { message: 'two dead letters' });
    } finally {
      await reader.disconnect();
    }
    const byReason = Object.fromEntries(deadLetters.map((d) => [d.headers['dlq-reason'], d]));
    expect(byReason.invalid_json?.value).toBe('{"v":1,');
    expect(byReason.invalid_event?.headers['dlq-error']).toMatch(/event_id/);
    for (const d of deadLetters) {
      expect(d.headers).toMatchObject({
        'dlq-source-topic': names.topic,
        'dlq-consumer-group': names.groupId,
      });
      expect(Number(d.headers['dlq-source-offset'])).toBeGreaterThanOrEqual(0);
    }
    const partitions = new Set(deadLetters.map((d) => d.headers['dlq-source-partition']));
    expect(partitions.size).toBe(1);
  });

  it('serves /healthz, /readyz naming its engines, and /metrics', async () => {
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { kafka: { ok: true }, clickhouse: { ok: true } } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      'tidemark_consumer_lag_messages{',
      'tidemark_consumer_batch_messages_count',
      'tidemark_consumer_insert_seconds_count',
      'tidemark_consumer_events_inserted_total',
      'tidemark_consumer_dead_letters_total{reason="invalid_json"',
    ]) {
      expect(metrics).toContain(name);
    }
  });

  it('commits everything it loaded and exits 0 on SIGTERM', async () => {
    const site = generateSite(40, 3);
    await produce(kafka, names.topic, site.events);
    await waitForEvents(clickhouse, site.siteId, site.events.length);
    expect(await consumer.stop('SIGTERM')).toBe(0);

    const admin = kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: names.groupId, topics: [names.topic] });
      const ends = await admin.fetchTopicOffsets(names.topic);
      const expected = ends.map((p) => ({ partition: p.partition, offset: p.high, metadata: null }));
      const byPartition = (a: { partition: number }, b: { partition: number }) => a.partition - b.partition;
      expect(committed?.partitions.sort(byPartition)).toEqual(expected.sort(byPartition));
    } finally {
      await admin.disconnect();
    }
  });
});
