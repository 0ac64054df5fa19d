import { createHash, randomUUID } from 'node:crypto';
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { WEBHOOK_BATCH_MAX, type WebhookEventItem } from '@tidemark/webhooks';
import type { z } from 'zod';
import type { alertsJob, maintenanceJob, siteEventsJob, webhookDeliveryJob } from './jobs';

export const QUEUE_NAMES = {
  webhookDelivery: 'webhook-delivery',
  alerts: 'alerts',
  siteEvents: 'site-events',
  maintenance: 'maintenance',
} as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/**
 * BullMQ's key prefix: `{tidemark}` makes every key `{tidemark}:<queue>:...`. The braces are a Redis
 * Cluster hash tag: all keys of a queue must live in one slot for BullMQ's Lua scripts to run.
 */
export const queuePrefix = (redisPrefix: string) => `{${redisPrefix}}`;

export interface QueueConnection {
  /** REDIS_URL */
  url: string;
  /** REDIS_PREFIX, without braces. */
  prefix: string;
}

type DeliveryData = z.input<typeof webhookDeliveryJob>;
type AlertsData = z.input<typeof alertsJob>;
type MaintenanceData = z.input<typeof maintenanceJob>;
type SiteEventsData = z.input<typeof siteEventsJob>;

export type WebhookDeliveryQueue = Queue<DeliveryData, unknown, DeliveryData['type']>;
export type AlertsQueue = Queue<AlertsData, unknown, AlertsData['type']>;
export type MaintenanceQueue = Queue<MaintenanceData, unknown, MaintenanceData['type']>;
export type SiteEventsQueue = Queue<SiteEventsData, unknown, SiteEventsData['type']>;

/**
 * Options for a `Queue` or a `Worker` of ours. Producers keep ioredis' default retries so `add`
 * fails after a while when Redis is gone; workers pass `maxRetriesPerRequest: null` (BullMQ's
 * blocking commands need it).
 */
export function bullOptions(conn: QueueConnection, connection: Partial<ConnectionOptions> = {}) {
  return {
    connection: { url: conn.url, ...connection } as ConnectionOptions,
    prefix: queuePrefix(conn.prefix),
  };
}

/** `connection` adjusts the client, e.g. to fail fast in a request path instead of waiting for Redis. */
export const createWebhookDeliveryQueue = (
  conn: QueueConnection,
  connection: Partial<ConnectionOptions> = {},
): WebhookDeliveryQueue => new Queue(QUEUE_NAMES.webhookDelivery, bullOptions(conn, connection));
export const createAlertsQueue = (conn: QueueConnection): AlertsQueue =>
  new Queue(QUEUE_NAMES.alerts, bullOptions(conn));
export const createMaintenanceQueue = (conn: QueueConnection): MaintenanceQueue =>
  new Queue(QUEUE_NAMES.maintenance, bullOptions(conn));
export const createSiteEventsQueue = (
  conn: QueueConnection,
  connection: Partial<ConnectionOptions> = {},
): SiteEventsQueue => new Queue(QUEUE_NAMES.siteEvents, bullOptions(conn, connection));

// Finished jobs are kept a while (for inspection, and so a jobId stays taken: adding a job whose
// id exists is a no-op) but bounded, so Redis memory does not grow with traffic.
const KEEP_COMPLETED = { age: 24 * 3600, count: 10_000 };
const KEEP_FAILED = { age: 7 * 24 * 3600, count: 10_000 };

/**
 * Delivery jobs: BullMQ's own attempts only cover the processor failing (PostgreSQL unreachable,
 * a crash); failed HTTP attempts follow the webhook retry schedule, which the worker applies by
 * delaying the same job.
 */
const DELIVERY_JOB: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 10_000 },
  removeOnComplete: KEEP_COMPLETED,
  removeOnFail: KEEP_FAILED,
};

/** Enqueues deliveries created by `createEventDeliveries`/`createTestDelivery`; the job id is the delivery id. */
export async function enqueueDeliveries(queue: WebhookDeliveryQueue, deliveryIds: string[]): Promise<void> {
  if (deliveryIds.length === 0) return;
  await queue.addBulk(
    deliveryIds.map((deliveryId) => ({
      name: 'deliver' as const,
      data: { type: 'deliver' as const, deliveryId },
      opts: { ...DELIVERY_JOB, jobId: deliveryId },
    })),
  );
}

export const enqueueDelivery = (queue: WebhookDeliveryQueue, deliveryId: string) =>
  enqueueDeliveries(queue, [deliveryId]);

/**
 * `POST .../deliveries/{id}/redeliver`: one more attempt of an existing delivery, same `webhook-id`,
 * whatever its status. `requestId` makes a retried API request enqueue it once.
 */
export async function enqueueRedelivery(
  queue: WebhookDeliveryQueue,
  deliveryId: string,
  requestId: string = randomUUID(),
): Promise<void> {
  await queue.add(
    'deliver',
    { type: 'deliver', deliveryId, manual: true },
    { ...DELIVERY_JOB, jobId: `redeliver_${deliveryId}_${requestId.replaceAll(':', '_')}` },
  );
}

const EVENT_JOB: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 5_000 },
  removeOnComplete: KEEP_COMPLETED,
  removeOnFail: KEEP_FAILED,
};

// Job ids may not contain ':' (BullMQ), and goal names are free text.
const shortHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

export interface GoalCompletion {
  siteId: string;
  goalName: string;
  /** The event that completed the goal. */
  eventId: string;
  /** ISO timestamp of that event. */
  at: string;
}

/**
 * For the consumer, once ClickHouse stored an event completing a goal: fires the goal's alerts and
 * sends `goal.completed` webhooks. Idempotent per (event, goal).
 */
export async function enqueueGoalCompleted(queue: SiteEventsQueue, goal: GoalCompletion): Promise<void> {
  await enqueueGoalCompletions(queue, [goal]);
}

/** `enqueueGoalCompleted` for many completions in one round trip (a consumer batch). */
export async function enqueueGoalCompletions(queue: SiteEventsQueue, goals: GoalCompletion[]): Promise<void> {
  if (goals.length === 0) return;
  await queue.addBulk(
    goals.map((goal) => ({
      name: 'goal-completed' as const,
      data: { type: 'goal-completed' as const, ...goal },
      opts: { ...EVENT_JOB, jobId: `goal_${goal.eventId}_${shortHash(goal.goalName)}` },
    })),
  );
}

export interface EventsFanout {
  siteId: string;
  /** Stable for the batch (e.g. `<partition>-<first offset>-<last offset>`): [A-Za-z0-9_.-]. */
  batchKey: string;
  events: WebhookEventItem[];
}

/**
 * For the consumer, once ClickHouse stored a batch: `pageview`/`event` webhooks for one site, in jobs
 * of at most 100 events (one delivery per job and subscription). Idempotent per batch key.
 */
export async function enqueueEventsFanout(queue: SiteEventsQueue, fanout: EventsFanout): Promise<void> {
  const jobs = [];
  for (let i = 0; i * WEBHOOK_BATCH_MAX < fanout.events.length; i++) {
    const batchKey = `${fanout.batchKey}.${i}`;
    jobs.push({
      name: 'fanout-events' as const,
      data: {
        type: 'fanout-events' as const,
        siteId: fanout.siteId,
        batchKey,
        events: fanout.events.slice(i * WEBHOOK_BATCH_MAX, (i + 1) * WEBHOOK_BATCH_MAX),
      },
      opts: { ...EVENT_JOB, jobId: `fanout_${fanout.siteId}_${batchKey}` },
    });
  }
  if (jobs.length > 0) await queue.addBulk(jobs);
}

/**
 * One evaluation job per alert and window. The job id makes every scheduler tick of the same
 * window (several workers, a re-run tick) enqueue it once.
 */
export async function enqueueThresholdEvaluations(
  queue: AlertsQueue,
  alertIds: string[],
  windowEnd: Date,
): Promise<void> {
  if (alertIds.length === 0) return;
  await queue.addBulk(
    alertIds.map((alertId) => ({
      name: 'evaluate-threshold-alerts' as const,
      data: { type: 'evaluate-threshold-alerts' as const, alertId, windowEnd: windowEnd.toISOString() },
      opts: {
        jobId: `eval_${alertId}_${windowEnd.getTime()}`,
        // A window is only worth evaluating while it is current.
        attempts: 2,
        backoff: { type: 'fixed', delay: 2_000 },
        removeOnComplete: { age: 3600, count: 20_000 },
        removeOnFail: KEEP_FAILED,
      },
    })),
  );
}

const KEEP_TICKS = { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } };

/**
 * Repeating jobs the worker runs. Job schedulers are stored in Redis under a fixed id, so every
 * worker process upserting them at start still yields one job per interval.
 */
export async function upsertSchedules(
  queues: { alerts: AlertsQueue; webhookDelivery: WebhookDeliveryQueue; maintenance: MaintenanceQueue },
  intervals: { thresholdAlertsMs: number; sweepDeliveriesMs: number; refreshSummariesMs: number },
): Promise<void> {
  await queues.alerts.upsertJobScheduler(
    'schedule-threshold-alerts',
    { every: intervals.thresholdAlertsMs },
    { name: 'schedule-threshold-alerts', data: { type: 'schedule-threshold-alerts' }, opts: KEEP_TICKS },
  );
  await queues.webhookDelivery.upsertJobScheduler(
    'sweep-deliveries',
    { every: intervals.sweepDeliveriesMs },
    { name: 'sweep-deliveries', data: { type: 'sweep-deliveries' }, opts: KEEP_TICKS },
  );
  await queues.maintenance.upsertJobScheduler(
    'refresh-summaries',
    { every: intervals.refreshSummariesMs },
    { name: 'refresh-summaries', data: { type: 'refresh-summaries' }, opts: KEEP_TICKS },
  );
}
