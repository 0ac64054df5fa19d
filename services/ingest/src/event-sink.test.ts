import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Partitioners, type Kafka } from '@tidemark/kafka';
import { createLogger } from '@tidemark/logging';
import { EventSink, rememberLastKey, type OutgoingMessage } from './event-sink';

const logger = createLogger({ name: 'event-sink-test', level: 'silent' });

/** A producer whose connect and send calls wait until the test answers them. */
function fakeKafka() {
  const sends: { messages: OutgoingMessage[]; answer: (err?: Error) => void }[] = [];
  const connects: (() => void)[] = [];
  const producer = {
    events: { DISCONNECT: 'producer.disconnect' },
    on: () => () => {},
    connect: () => new Promise<void>((resolve) => connects.push(resolve)),
    disconnect: async () => {},
    send: ({ messages }: { messages: OutgoingMessage[] }) =>
      new Promise((resolve, reject) => {
        sends.push({ messages, answer: (err) => (err ? reject(err) : resolve([])) });
      }),
  };
  const kafka = { producer: () => producer, admin: () => ({}) } as unknown as Kafka;
  return { kafka, sends, connects };
}

const sink = (kafka: Kafka, opts: { batchMax?: number; ackTimeoutMs?: number } = {}) =>
  new EventSink({
    kafka,
    topic: 't',
    logger,
    registry: new Registry(),
    maxInflight: 1_000,
    ackTimeoutMs: opts.ackTimeoutMs ?? 5_000,
    lingerMs: 0,
    batchMax: opts.batchMax ?? 100,
    compression: 'none',
  });

const msgs = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({ key: `k-${tag}`, value: `${tag}${i}` }));
const tick = () => new Promise((r) => setImmediate(r));

describe('EventSink', () => {
  it('sends nothing before the producer is connected, producer id included', async () => {
    const { kafka, sends, connects } = fakeKafka();
    const s = sink(kafka);
    const acked = s.send(msgs(1, 'a'));
    await tick();
    expect(sends).toHaveLength(0);
    connects.forEach((c) => c());
    await tick();
    expect(sends).toHaveLength(1);
    sends[0]!.answer();
    await expect(acked).resolves.toBeUndefined();
  });

  it('keeps one produce request in flight and sends what arrived meanwhile as the next', async () => {
    const { kafka, sends, connects } = fakeKafka();
    const s = sink(kafka);
    const first = s.send(msgs(2, 'a'));
    await tick();
    connects.forEach((c) => c());
    await tick();
    const second = s.send(msgs(1, 'b'));
    const third = s.send(msgs(3, 'c'));
    await tick();
    expect(sends).toHaveLength(1);
    sends[0]!.answer();
    await first;
    await tick();
    expect(sends).toHaveLength(2);
    expect(sends[1]!.messages.map((m) => m.value)).toEqual(['b0', 'c0', 'c1', 'c2']);
    sends[1]!.answer(new Error('broker gone'));
    await expect(second).rejects.toMatchObject({ code: 'unavailable' });
    await expect(third).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('cuts produce requests at batchMax without splitting a request', async () => {
    const { kafka, sends, connects } = fakeKafka();
    const s = sink(kafka, { batchMax: 4 });
    const all = [s.send(msgs(3, 'a')), s.send(msgs(3, 'b')), s.send(msgs(1, 'c'))];
    await tick();
    connects.forEach((c) => c());
    await tick();
    expect(sends.map((x) => x.messages.length)).toEqual([3]);
    sends[0]!.answer();
    await tick();
    expect(sends.map((x) => x.messages.length)).toEqual([3, 4]);
    sends[1]!.answer();
    await Promise.all(all);
  });

  it('does not send a request it already answered 503 for', async () => {
    const { kafka, sends, connects } = fakeKafka();
    const s = sink(kafka, { ackTimeoutMs: 100 });
    const stuck = s.send(msgs(1, 'a'));
    await tick();
    connects.forEach((c) => c());
    await tick();
    const late = s.send(msgs(1, 'b'));
    await expect(stuck).rejects.toMatchObject({ code: 'unavailable' });
    await expect(late).rejects.toMatchObject({ code: 'unavailable' });
    const fresh = s.send(msgs(1, 'c'));
    sends[0]!.answer();
    await tick();
    expect(sends[1]!.messages.map((m) => m.value)).toEqual(['c0']);
    sends[1]!.answer();
    await fresh;
  });
});

describe('rememberLastKey', () => {
  it('picks the partition the default partitioner picks', () => {
    const fast = rememberLastKey(Partitioners.DefaultPartitioner)();
    const reference = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 12 }, (_, i) => ({
      partitionId: i,
      leader: 1,
      replicas: [1],
      isr: [1],
      partitionErrorCode: 0,
    }));
    const keys = ['a', 'a', 'b', 'b', 'b', 'a', 'site:1', 'site:1', 'site:2'];
    for (const key of keys) {
      const args = { topic: 't', partitionMetadata, message: { key, value: 'v' } };
      expect(fast(args)).toBe(reference(args));
    }
    const fewer = {
      topic: 't',
      partitionMetadata: partitionMetadata.slice(0, 5),
      message: { key: 'site:2', value: 'v' },
    };
    expect(fast(fewer)).toBe(reference(fewer));
    const pinned = { topic: 't', partitionMetadata, message: { key: 'site:2', value: 'v', partition: 7 } };
    expect(fast(pinned)).toBe(7);
  });
});
