export { createKafka, kafkaLogCreator, type KafkaConfig } from './client';
export { COMPRESSION_CODECS, type CompressionName } from './compression';
export { ensureTopics, type TopicSpec } from './topics';
export type { Kafka, Producer, Consumer, Admin, EachBatchPayload, KafkaMessage } from 'kafkajs';
export { Partitioners, logLevel as KafkaLogLevel } from 'kafkajs';
