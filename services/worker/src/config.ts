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
import { DEFAULT_RETRY_SCHEDULE, parseDuration, parseDurationList } from '@tidemark/webhooks';

/** A duration such as `250ms`, `5s`, `30m`, `2h`, `5d`, as milliseconds. */
const envDuration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      try {
        return parseDuration(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });

const envDurationList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      try {
        const list = parseDurationList(text);
        if (list.length === 0) ctx.addIssue({ code: 'custom', message: 'must list at least one duration' });
        return list;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });

export const workerEnv = z
  .object({
    ...serviceEnv,
    ...redisEnv,
    ...postgresEnv,
    ...clickhouseEnv,
    /** Port of the ops server (`/healthz`, `/readyz`, `/metrics`). */
    PORT: envPort(3003),

    /** Let webhooks reach loopback/private/link-local addresses: tests and on-premise only. */
    WEBHOOK_ALLOW_PRIVATE_TARGETS: envBool(false),
    /** Delays after the 1st, 2nd... failed attempt; the delivery fails after the last one. */
    WEBHOOK_RETRY_SCHEDULE: envDurationList(DEFAULT_RETRY_SCHEDULE),
    /** An endpoint whose attempts all failed for this long is disabled. */
    WEBHOOK_DISABLE_AFTER: envDuration('5d'),
    /** One attempt, from connect to the response excerpt. */
    WEBHOOK_TIMEOUT: envDuration('10s'),
    /** How often lost delivery jobs are looked for and old deliveries pruned. */
    WEBHOOK_SWEEP_INTERVAL: envDuration('1m'),
    /** A delivery this late with no live job is enqueued again. */
    WEBHOOK_SWEEP_GRACE: envDuration('10m'),
    /** Finished deliveries (and their attempts) are deleted after this. */
    WEBHOOK_DELIVERY_RETENTION: envDuration('30d'),

    /** How often threshold alerts are evaluated; windows end on multiples of it. */
    ALERT_EVALUATION_INTERVAL: envDuration('1m'),

    /**
     * How often closed months that changed are summarized for the stats (a late event, a merge or
     * a deleted site changes a month). Until then the stats read that month in full: answers stay
     * exact, only slower. A run with nothing to do costs a few small queries.
     */
    SUMMARY_REFRESH_INTERVAL: envDuration('5m'),

    /**
     * Deliveries in flight per process. They are I/O bound: a slot costs a socket and a payload in
     * memory, and holds a PostgreSQL connection only while a query runs, not during the HTTP attempt.
     * The CPU (well under 1 ms per delivery) caps a process near 1,000-1,500 deliveries/s, which at
     * real endpoint latencies of 50-100 ms takes 50-150 slots. A hung endpoint holds a slot for up
     * to WEBHOOK_TIMEOUT per delivery: with 16 slots, 16 deliveries to one dead-slow subscriber
     * stalled every other subscriber for 10 s; with 100 it takes 100 of them. The price of more
     * slots is more connections at once to a single receiver (up to this many).
     */
    WORKER_CONCURRENCY_WEBHOOK_DELIVERY: envInt(100, { min: 1, max: 1_000 }),
    WORKER_CONCURRENCY_ALERTS: envInt(4, { min: 1, max: 100 }),
    WORKER_CONCURRENCY_SITE_EVENTS: envInt(4, { min: 1, max: 100 }),
    /**
     * A job whose worker stops renewing its lock (killed, frozen) is handed to another worker after
     * about lock duration + stalled interval.
     */
    WORKER_LOCK_DURATION: envDuration('30s'),
    WORKER_STALLED_INTERVAL: envDuration('15s'),
    /** How many times a job may be recovered from a dead worker before it is failed. */
    WORKER_MAX_STALLED_COUNT: envInt(3, { min: 1, max: 100 }),
    /** `/readyz` fails when a job has waited this long while no job of its queue is active. */
    QUEUE_STUCK_AFTER: envDuration('5m'),
  })
  .superRefine((env, ctx) => {
    if (env.WORKER_STALLED_INTERVAL > env.WORKER_LOCK_DURATION) {
      ctx.addIssue({
        code: 'custom',
        path: ['WORKER_STALLED_INTERVAL'],
        message: 'must not exceed WORKER_LOCK_DURATION',
      });
    }
  });

export type WorkerConfig = z.infer<typeof workerEnv>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env) => parseEnv(workerEnv, env);
