import type { Kafka } from 'kafkajs';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** Topic-level configs such as `retention.ms`. */
  configEntries?: Record<string, string>;
}

/**
 * Creates the topics that do not exist yet. Idempotent, so every replica can call it at start;
 * an existing topic keeps its partition count (growing it would re-key visitors' partitions).
 */
export async function ensureTopics(kafka: Kafka, topics: TopicSpec[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        topic: t.topic,
        numPartitions: t.numPartitions,
        replicationFactor: -1,
        configEntries: Object.entries(t.configEntries ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  } catch (err) {
    // Two replicas racing to create the same topic: the loser's error is not a failure.
    if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
  } finally {
    await admin.disconnect();
  }
}
