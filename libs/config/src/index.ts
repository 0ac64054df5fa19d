import { z } from 'zod';

/** Thrown when the environment does not satisfy a service's config schema. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once, at start. Every problem names the variable so an operator can fix
 * it without reading code.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    return `${name}: ${issue.message}`;
  });
  throw new ConfigError(problems);
}

/** "false", "0", "no", "off" and "" are false: `Boolean("false")` being true is a classic footgun. */
export const envBool = (fallback: boolean) =>
  z.preprocess(
    (v) => {
      if (v === undefined) return fallback;
      if (typeof v === 'boolean') return v;
      const s = String(v).trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
      return v;
    },
    z.boolean({ error: 'must be true or false' }),
  );

export const envInt = (fallback: number, opts: { min?: number; max?: number } = {}) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(opts.min ?? Number.MIN_SAFE_INTEGER)
    .max(opts.max ?? Number.MAX_SAFE_INTEGER)
    .default(fallback);

export const envPort = (fallback: number) => envInt(fallback, { min: 0, max: 65535 });

export const envUrl = (fallback: string) => z.url({ error: 'must be a URL' }).default(fallback);

/** Comma-separated list, blanks dropped. */
export const envList = (fallback: string[]) =>
  z.preprocess(
    (v) =>
      v === undefined
        ? fallback
        : String(v)
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    z.array(z.string()),
  );

export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');

/** Connection settings shared by every service; each service picks the ones it needs. */
export const kafkaEnv = {
  KAFKA_BROKERS: envList(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: z.string().default('tidemark'),
  KAFKA_TOPIC_EVENTS: z.string().min(1).default('tidemark.events.v1'),
  KAFKA_TOPIC_DLQ: z.string().min(1).default('tidemark.events.dlq'),
};

export const clickhouseEnv = {
  CLICKHOUSE_URL: envUrl('http://127.0.0.1:8123'),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be a plain identifier' })
    .default('tidemark'),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
};

export const postgresEnv = {
  DATABASE_URL: envUrl('postgres://postgres@127.0.0.1:5432/tidemark'),
};

export const redisEnv = {
  REDIS_URL: envUrl('redis://127.0.0.1:6379'),
  /** Prefix for every key and queue, so several stacks can share one Redis. */
  REDIS_PREFIX: z.string().default('tidemark'),
};

export const serviceEnv = {
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: logLevel,
  /** `auto`: pretty in a terminal, JSON lines otherwise. */
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  HOST: z.string().default('127.0.0.1'),
  SHUTDOWN_TIMEOUT_MS: envInt(15_000, { min: 100 }),
};

export { z };

/**
 * Loads a service's config at start, or stops the process with a message naming each bad
 * variable (no stack trace: the operator needs the variable, not our call stack).
 */
export function loadConfigOrExit<T>(service: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`${service}: ${err.message}`);
    process.exit(1);
  }
}
