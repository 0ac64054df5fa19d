import {
  envBool,
  envInt,
  envList,
  envPort,
  kafkaEnv,
  parseEnv,
  postgresEnv,
  redisEnv,
  serviceEnv,
  z,
} from '@tidemark/config';

export const ingestEnv = z.object({
  ...serviceEnv,
  ...kafkaEnv,
  ...postgresEnv,
  ...redisEnv,
  PORT: envPort(3001),
  /**
   * Trust `X-Forwarded-For` from these proxies (comma-separated IPs/CIDRs, or `true` for any).
   * Off by default: a client could otherwise pick its own IP and dodge IP exclusions.
   */
  TRUST_PROXY: z.string().default(''),
  TOPIC_PARTITIONS: envInt(12, { min: 1, max: 1000 }),
  /** How long site rules are cached; a site update invalidates them at once through Redis. */
  SITE_CACHE_TTL_MS: envInt(30_000, { min: 0 }),
  SESSION_TIMEOUT_MINUTES: envInt(30, { min: 1, max: 24 * 60 }),
  /** Events waiting for a Kafka acknowledgement; past it, requests get 503 instead of memory growth. */
  MAX_INFLIGHT_EVENTS: envInt(50_000, { min: 1 }),
  /** Past this a request is answered 503 (its events may still reach Kafka: clients retry with event_id). */
  KAFKA_ACK_TIMEOUT_MS: envInt(5_000, { min: 100 }),
  /**
   * With no produce request in flight, the first message waits this long for others (or up to
   * KAFKA_BATCH_MAX) before one goes out; while one is in flight, messages gather until it is
   * answered anyway. 0 sends at the end of the current event-loop turn: measured on 2 cores, 5 ms
   * only added latency (a closed loop of clients then waits on the timer) and cut throughput.
   */
  KAFKA_LINGER_MS: envInt(0, { min: 0, max: 1_000 }),
  KAFKA_BATCH_MAX: envInt(1_000, { min: 1 }),
  /**
   * kafkajs gzips each partition's record batch with a fresh zlib stream: measured on 2 cores with
   * ~20 events per produce request over 12 partitions, gzip doubled the producer's CPU per event
   * and made requests 40% slower, for batches of a record or two that barely compress. `gzip`
   * is for deployments where broker disk and network count more than ingest CPU.
   */
  KAFKA_COMPRESSION: z.enum(['gzip', 'none']).default('none'),
  /** Extra bot user agents to drop, beyond the maintained list (comma-separated substrings). */
  EXTRA_BOT_PATTERNS: envList([]),
  CORS_ENABLED: envBool(true),
});

export type IngestConfig = z.infer<typeof ingestEnv>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env) => parseEnv(ingestEnv, env);
