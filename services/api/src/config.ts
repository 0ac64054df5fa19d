import { MIN_JWT_SECRET_LENGTH } from '@tidemark/auth';
import { ipOrCidrProblem } from '@tidemark/api-schemas';
import {
  clickhouseEnv,
  envBool,
  envInt,
  envPort,
  envUrl,
  parseEnv,
  postgresEnv,
  redisEnv,
  serviceEnv,
  z,
} from '@tidemark/config';

/**
 * `TRUST_PROXY`: unset/false (use the socket address), true (trust every hop: only behind a proxy
 * that overwrites X-Forwarded-For), a hop count, or a comma-separated list of proxy IPs/CIDRs.
 * It decides the client IP that the per-IP rate limit counts.
 */
const trustProxy = z.preprocess(
  (v) => {
    if (v === undefined) return false;
    const s = String(v).trim();
    if (['', 'false', '0', 'no', 'off'].includes(s.toLowerCase())) return false;
    if (['true', 'yes', 'on'].includes(s.toLowerCase())) return true;
    if (/^\d+$/.test(s)) return Number(s);
    return s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
  },
  z.union([
    z.boolean(),
    z.number().int().min(1),
    z.array(
      z.string().refine((p) => ipOrCidrProblem(p) === null, {
        error: 'must be true, false, a hop count, or a list of proxy IPs/CIDRs',
      }),
    ),
  ]),
);

/** A positive duration in seconds, fractions allowed. */
const seconds = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a number of seconds' })
    .positive({ error: 'must be more than 0' })
    .max(86_400, { error: 'must be at most 86400' })
    .default(fallback);

export const apiEnvSchema = z.object({
  ...serviceEnv,
  ...postgresEnv,
  ...redisEnv,
  ...clickhouseEnv,
  PORT: envPort(3000),
  /**
   * Required, with no generated fallback: a per-process secret would silently break sessions across
   * restarts and between replicas. The local launcher writes one per data folder.
   */
  JWT_SECRET: z
    .string({ error: `is required: a random string of at least ${MIN_JWT_SECRET_LENGTH} characters` })
    .min(MIN_JWT_SECRET_LENGTH, { error: `must be at least ${MIN_JWT_SECRET_LENGTH} characters` }),
  SESSION_TTL_HOURS: envInt(24, { min: 1, max: 24 * 90 }),
  /** When false, only the very first user can sign up (the operator); then `create-user` adds users. */
  SIGNUP_OPEN: envBool(true),
  RATE_LIMIT_PER_TOKEN_PER_HOUR: envInt(600, { min: 1 }),
  RATE_LIMIT_PER_IP_PER_MINUTE: envInt(60, { min: 1 }),
  TRUST_PROXY: trustProxy,
  /**
   * How long a resolved bearer token is reused without asking PostgreSQL again (0: never). Revoking,
   * rolling or deleting a token drops it at once on this replica and, through Redis, on the others;
   * this is the bound if that message is lost while Redis is away.
   */
  AUTH_CACHE_TTL_MS: envInt(10_000, { min: 0, max: 300_000 }),
  /**
   * How long a user's site list (`GET /sites`), and the site and role a read-only route (stats,
   * `GET` of a site's goals...) works on, are reused without asking PostgreSQL again (0: never).
   * Any change to a site or a membership drops them as `AUTH_CACHE_TTL_MS` describes.
   */
  SITE_ACCESS_CACHE_TTL_MS: envInt(10_000, { min: 0, max: 300_000 }),
  /** How often `last_used_at` of tokens and keys is written (batched, not one write per request). */
  TOKEN_USAGE_FLUSH_SECONDS: envInt(10, { min: 1, max: 3600 }),
  /**
   * Accept webhook URLs on loopback, private and link-local addresses: tests and on-premise only.
   * The worker has the same switch and checks every resolved address again when it connects.
   */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: envBool(false),
  /** Origin of the ingest service as browsers reach it: the dashboard puts it in the tracker snippet. */
  PUBLIC_INGEST_URL: envUrl('http://127.0.0.1:3001').transform((url) => url.replace(/\/+$/, '')),
  /**
   * How long raw events are kept, as the consumer's setting of the same name (which sets the raw
   * table's TTL): stats queries that need raw events before then answer 422 `unsupported_query`.
   */
  RAW_RETENTION_DAYS: envInt(90, { min: 1, max: 36_500 }),
  /**
   * ClickHouse's `max_execution_time` for each stats query; one that runs longer answers 503
   * `unavailable` with Retry-After. Fractions allowed (0.5).
   */
  STATS_QUERY_TIMEOUT_SECONDS: seconds(10),
  /** The same for a streamed export, which runs as long as its client takes to read it. */
  STATS_EXPORT_TIMEOUT_SECONDS: seconds(1800),
});

export type ApiConfig = z.output<typeof apiEnvSchema>;

export const loadApiConfig = (env: NodeJS.ProcessEnv = process.env): ApiConfig => parseEnv(apiEnvSchema, env);
