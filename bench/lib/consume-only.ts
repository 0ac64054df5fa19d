/**
 * The consumer scenario's baseline, run as its own process: a kafkajs group member with the
 * consumer's fetch settings and partition concurrency that decodes every message as the consumer
 * does (`decodeEvent`: JSON and the `enrichedEventV1` contract) and commits each batch, but stores
 * nothing. Env: KAFKA_BROKERS, TOPIC, PARTITIONS, GROUP_ID, EXPECTED. Prints `ready <ms>` once it
 * joined the group and `done <count> <invalid> <ms>` once it has consumed EXPECTED messages (epoch
 * milliseconds).
 */
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../../services/consumer/src/config';
import { decodeEvent } from '../../services/consumer/src/decode';
import { fetchLimits } from '../../services/consumer/src/event-loader';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const expected = Number(env('EXPECTED'));
const topic = env('TOPIC');
const kafka = new Kafka({
  clientId: 'bench-consume-only',
  brokers: env('KAFKA_BROKERS').split(','),
  logLevel: logLevel.NOTHING,
});
// The real consumer's fetch settings with its shipped defaults.
const defaults = loadConfig({});
const consumer = kafka.consumer({
  groupId: env('GROUP_ID'),
  maxWaitTimeInMs: defaults.BATCH_MAX_WAIT_MS,
  minBytes: defaults.BATCH_MIN_BYTES,
  ...fetchLimits({ maxBatchEvents: defaults.BATCH_MAX_EVENTS, maxBytes: defaults.FETCH_MAX_BYTES }),
  allowAutoTopicCreation: false,
});

let consumed = 0;
let invalid = 0;
let reported = false;

await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
await consumer.run({
  autoCommit: false,
  eachBatchAutoResolve: false,
  // As the consumer: every partition of a fetch reaches eachBatch at once.
  partitionsConsumedConcurrently: Number(env('PARTITIONS')),
  eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
    for (const message of batch.messages) if (decodeEvent(message.value).kind !== 'ok') invalid++;
    const last = batch.messages.at(-1);
    if (!last) return;
    resolveOffset(last.offset);
    await commitOffsetsIfNecessary({
      topics: [
        {
          topic: batch.topic,
          partitions: [{ partition: batch.partition, offset: String(BigInt(last.offset) + 1n) }],
        },
      ],
    });
    consumed += batch.messages.length;
    if (consumed >= expected && !reported) {
      reported = true;
      console.log(`done ${consumed} ${invalid} ${Date.now()}`);
    }
  },
});
console.log(`ready ${Date.now()}`);

process.on('SIGTERM', () => {
  void consumer.disconnect().finally(() => process.exit(0));
});
