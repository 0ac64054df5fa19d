import { clickhouseEnv, envPort, parseEnv, postgresEnv, redisEnv, serviceEnv, z } from '@tidemark/config';

export const workerEnv = z.object({
  ...serviceEnv,
  ...redisEnv,
  ...postgresEnv,
  ...clickhouseEnv,
  /** Port of the ops server (`/healthz`, `/readyz`, `/metrics`). */
  PORT: envPort(3003),
});

export type WorkerConfig = z.infer<typeof workerEnv>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env) => parseEnv(workerEnv, env);
