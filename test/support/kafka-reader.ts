import { randomBytes } from 'node:crypto';
import { createKafka, type Consumer, type KafkaMessage } from '@tidemark/kafka';
import { createLogger } from '@tidemark/logging';

/** Collects every message of a topic from the beginning, for asserting what a service produced. */
export async function readTopic(
  brokers: string[],
  topic: string,
): Promise<{
  messages: KafkaMessage[];
  stop: () => Promise<void>;
}> {
  const kafka = createKafka({
    brokers,
    clientId: 'test-reader',
    logger: createLogger({ name: 'test', level: 'error' }),
  });
  const consumer: Consumer = kafka.consumer({ groupId: `test-reader-${randomBytes(4).toString('hex')}` });
  const messages: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void messages.push(message) });
  return { messages, stop: () => consumer.disconnect() };
}
