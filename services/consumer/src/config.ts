import {
  clickhouseEnv,
  envInt,
  envPort,
  kafkaEnv,
  parseEnv,
  postgresEnv,
  redisEnv,
  serviceEnv,
  z,
} from '@tidemark/config';

export const consumerEnv = z.object({
  ...serviceEnv,
  ...kafkaEnv,
  ...clickhouseEnv,
  /** Goals and webhook subscriptions: which stored events the worker must hear about. */
  ...postgresEnv,
  /** The worker's `site-events` queue, and the api's config invalidations. */
  ...redisEnv,
  PORT: envPort(3002),
  /**
   * How long a site's goals and subscribed event types are cached. The api's changes drop the entry
   * at once through Redis; this bounds staleness when that message is lost.
   */
  SITE_CONFIG_TTL_MS: envInt(10_000, { min: 100, max: 600_000 }),
  /** Raw events are deleted after this many days (the `events` TTL, set when the table is created). */
  RAW_RETENTION_DAYS: envInt(90, { min: 1, max: 36_500 }),
  CONSUMER_GROUP_ID: z.string().min(1).default('tidemark-consumer'),
  /** Partitions of the events topic when this service creates it; an existing topic keeps its own. */
  TOPIC_PARTITIONS: envInt(12, { min: 1, max: 1_000 }),
  /**
   * Upper bound of one ClickHouse insert (one batch, over one or more partitions). Each insert makes
   * a part in `events` and in every view's table, which ClickHouse merges later: in the consumer
   * benchmark 50,000 (with FETCH_MAX_BYTES at 48 MiB) cost the engine ~16 µs per event against
   * ~23 at 20,000 (services/consumer/README.md).
   */
  BATCH_MAX_EVENTS: envInt(50_000, { min: 1, max: 1_000_000 }),
  /**
   * How long the broker may hold a fetch to gather BATCH_MIN_BYTES. Below that rate it is the pace
   * of inserts, and an event that arrives while a fetch's batch is being stored waits for it, this
   * long, and its own batch; each fetch's partitions share one insert, so 500 ms means at most
   * about two inserts per second per process at moderate rates.
   */
  BATCH_MAX_WAIT_MS: envInt(500, { min: 1, max: 60_000 }),
  /** The broker answers a fetch early once this much data is there: larger means fewer, bigger inserts. */
  BATCH_MIN_BYTES: envInt(1024 * 1024, { min: 1 }),
  /**
   * Most bytes of fetched, uncommitted messages a process holds, as stored in Kafka (compressed,
   * when ingest compresses): it fetches again while it holds less, at most 16 MiB a fetch (or this,
   * if smaller), so it holds up to this plus one fetch. It bounds memory. An uncompressed event takes
   * ~0.8 KB; gzipped (KAFKA_COMPRESSION=gzip), ~10 times less. 48 MiB holds a batch of
   * BATCH_MAX_EVENTS uncompressed events and most of the next, so catching up one is decoded while
   * the other is stored; the consumer benchmark peaked at ~400 MB RSS with it
   * (services/consumer/README.md).
   */
  FETCH_MAX_BYTES: envInt(48 * 1024 * 1024, { min: 64 * 1024, max: 1024 * 1024 * 1024 }),
  /**
   * A member silent this long is dropped from the group and its partitions move to the others.
   * Shorter means faster takeover after a crash, but a longer pause (GC, slow host) costs a rebalance.
   */
  CONSUMER_SESSION_TIMEOUT_MS: envInt(30_000, { min: 6_000, max: 300_000 }),
  /**
   * ClickHouse inserts in flight at once per consumer process. Beside one in flight, a batch starts
   * only with half of BATCH_MAX_EVENTS or more, so at moderate rates there is one insert at a
   * time; catching up, this many overlap (decoding one while the engine stores another).
   */
  CONSUMER_CONCURRENCY: envInt(4, { min: 1, max: 1_000 }),
  /**
   * Test only: sleep this long between the ClickHouse insert and the offset commit, so tests can
   * kill the process inside that window. Leave at 0 anywhere else.
   */
  CONSUMER_TEST_PAUSE_BEFORE_COMMIT_MS: envInt(0, { min: 0, max: 600_000 }),
});

export type ConsumerConfig = z.infer<typeof consumerEnv>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env) => parseEnv(consumerEnv, env);
