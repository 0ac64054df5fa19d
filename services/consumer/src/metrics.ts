import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type ConsumerMetrics = ReturnType<typeof createConsumerMetrics>;

export function createConsumerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    lag: new Gauge<'topic' | 'partition'>({
      name: 'tidemark_consumer_lag_messages',
      help: 'Messages in the partition after the last committed batch (at the time of that commit)',
      labelNames: ['topic', 'partition'],
      registers,
    }),
    batchSize: new Histogram({
      name: 'tidemark_consumer_batch_messages',
      help: 'Kafka messages per loaded batch',
      buckets: [1, 10, 50, 100, 500, 1_000, 2_500, 5_000, 10_000, 25_000],
      registers,
    }),
    batchPartitions: new Histogram({
      name: 'tidemark_consumer_batch_partitions',
      help: 'Partitions whose messages one loaded batch (one ClickHouse insert) carried',
      buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64],
      registers,
    }),
    insertSeconds: new Histogram({
      name: 'tidemark_consumer_insert_seconds',
      help: 'Duration of successful ClickHouse inserts of one batch',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    insertedEvents: new Counter({
      name: 'tidemark_consumer_events_inserted_total',
      help: 'Events acknowledged by ClickHouse (a replayed batch counts again; ClickHouse drops it)',
      registers,
    }),
    insertFailures: new Counter({
      name: 'tidemark_consumer_insert_failures_total',
      help: 'Failed attempts to store a batch (ClickHouse or Kafka unavailable); each is retried',
      registers,
    }),
    replayedBatches: new Counter({
      name: 'tidemark_consumer_replayed_batches_total',
      help: 'Batches re-formed from a plan recorded by an earlier attempt (after a crash or rebalance)',
      registers,
    }),
    notifyFailures: new Counter({
      name: 'tidemark_consumer_notify_failures_total',
      help: 'Failed attempts to enqueue the worker jobs of a stored batch (PostgreSQL or Redis unavailable); each is retried',
      registers,
    }),
    workerNotifications: new Counter<'kind'>({
      name: 'tidemark_consumer_worker_notifications_total',
      help: 'Stored events handed to the worker: goal completions, and events fanned out to webhooks (replays count again)',
      labelNames: ['kind'],
      registers,
    }),
    siteConfigStale: new Counter({
      name: 'tidemark_consumer_site_config_stale_total',
      help: 'Site configs answered from an expired cache entry because PostgreSQL could not be read',
      registers,
    }),
    deadLetters: new Counter<'reason'>({
      name: 'tidemark_consumer_dead_letters_total',
      help: 'Messages sent to the dead-letter topic, by reason',
      labelNames: ['reason'],
      registers,
    }),
  };
}
