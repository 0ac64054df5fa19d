export { createKafka, kafkaLogCreator, type KafkaConfig } from './client';
export { ensureTopics, type TopicSpec } from './topics';
export type { Kafka, Producer, Consumer, Admin, EachBatchPayload, KafkaMessage } from 'kafkajs';
export { CompressionTypes, Partitioners, logLevel as KafkaLogLevel } from 'kafkajs';
