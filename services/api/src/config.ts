import { MIN_JWT_SECRET_LENGTH } from '@tidemark/auth';
import { ipOrCidrProblem } from '@tidemark/api-schemas';
import {
  clickhouseEnv,
  envBool,
  envInt,
  envPort,
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
  /** How often `last_used_at` of tokens and keys is written (batched, not one write per request). */
  TOKEN_USAGE_FLUSH_SECONDS: envInt(10, { min: 1, max: 3600 }),
});

export type ApiConfig = z.output<typeof apiEnvSchema>;

export const loadApiConfig = (env: NodeJS.ProcessEnv = process.env): ApiConfig => parseEnv(apiEnvSchema, env);
