import { webhookEventItem, WEBHOOK_BATCH_MAX } from '@tidemark/webhooks';
import { z } from 'zod';

/**
 * Job payloads, one discriminated union per queue, validated by the worker before it acts. Jobs
 * carry ids, not data, wherever the data lives in PostgreSQL: a job re-run (retry, stalled job)
 * then reads the current state instead of a stale copy.
 */

const deliveryId = z.string().regex(/^msg_[0-9a-f]{32}$/, { error: 'must be a delivery id (msg_...)' });

export const webhookDeliveryJob = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('deliver'),
    deliveryId,
    /** A user asked for it (redeliver): one attempt, outside the retry schedule. */
    manual: z.boolean().default(false),
  }),
  /** Re-enqueues deliveries whose job was lost and prunes old finished ones. */
  z.object({ type: z.literal('sweep-deliveries') }),
]);
export type WebhookDeliveryJob = z.output<typeof webhookDeliveryJob>;

export const alertsJob = z.discriminatedUnion('type', [
  /** Repeating: enqueues one `evaluate-threshold-alerts` job per enabled threshold alert. */
  z.object({ type: z.literal('schedule-threshold-alerts') }),
  z.object({
    type: z.literal('evaluate-threshold-alerts'),
    alertId: z.uuid(),
    /** End of the evaluated window, aligned to the evaluation interval. */
    windowEnd: z.iso.datetime(),
  }),
]);
export type AlertsJob = z.output<typeof alertsJob>;

/** ClickHouse upkeep that no request waits for. */
export const maintenanceJob = z.discriminatedUnion('type', [
  /** Repeating: summarizes the closed months that changed (libs/clickhouse/src/summaries.ts). */
  z.object({ type: z.literal('refresh-summaries') }),
]);
export type MaintenanceJob = z.output<typeof maintenanceJob>;

export const siteEventsJob = z.discriminatedUnion('type', [
  /** Enqueued by the consumer once ClickHouse stored an event that completes a goal. */
  z.object({
    type: z.literal('goal-completed'),
    siteId: z.uuid(),
    goalName: z.string().min(1).max(120),
    eventId: z.uuid(),
    /** When the goal completed (the event's timestamp). */
    at: z.iso.datetime(),
  }),
  /** Events stored by the consumer, for `pageview` and `event` subscriptions. */
  z.object({
    type: z.literal('fanout-events'),
    siteId: z.uuid(),
    /** Identifies the batch (e.g. Kafka partition and offsets), so a replayed batch is sent once. */
    batchKey: z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/),
    events: z.array(webhookEventItem).min(1).max(WEBHOOK_BATCH_MAX),
  }),
]);
export type SiteEventsJob = z.output<typeof siteEventsJob>;
