import type { Pool } from '@tidemark/db';
import type { Logger } from '@tidemark/logging';
import { enqueueDeliveries, type SiteEventsJob, type WebhookDeliveryQueue } from '@tidemark/queues';
import {
  createEventDeliveries,
  type EventBatchData,
  type GoalCompletedData,
  type WebhookEventItem,
} from '@tidemark/webhooks';
import { fireGoalAlerts } from './alerts.processor';
import type { WorkerMetrics } from './metrics';

export interface SiteEventsDeps {
  pool: Pool;
  deliveryQueue: WebhookDeliveryQueue;
  metrics: WorkerMetrics;
  logger: Logger;
}

type GoalCompleted = Extract<SiteEventsJob, { type: 'goal-completed' }>;
type FanoutEvents = Extract<SiteEventsJob, { type: 'fanout-events' }>;

/**
 * A goal completed: `goal.completed` webhooks, then the goal's alerts. Every step is idempotent
 * (delivery and history dedupe keys), so a re-run after a crash sends nothing twice.
 */
export async function processGoalCompleted(deps: SiteEventsDeps, job: GoalCompleted) {
  const data: GoalCompletedData = {
    site_id: job.siteId,
    goal_name: job.goalName,
    event_id: job.eventId,
    completed_at: job.at,
  };
  const deliveryIds = await createEventDeliveries(deps.pool, {
    siteId: job.siteId,
    type: 'goal.completed',
    timestamp: job.at,
    data,
    dedupeKey: `goal:${job.eventId}:${job.goalName}`,
  });
  await enqueueDeliveries(deps.deliveryQueue, deliveryIds);
  const alertsFired = await fireGoalAlerts(deps, job);
  return { deliveries: deliveryIds.length, alertsFired };
}

/** `pageview` and `event` (custom events) webhooks: one delivery per type and subscription. */
export async function processFanout(deps: SiteEventsDeps, job: FanoutEvents) {
  const byType: Record<'pageview' | 'event', WebhookEventItem[]> = { pageview: [], event: [] };
  for (const e of job.events) byType[e.name === 'pageview' ? 'pageview' : 'event'].push(e);
  const deliveryIds: string[] = [];
  for (const type of ['pageview', 'event'] as const) {
    const events = byType[type];
    if (events.length === 0) continue;
    const data: EventBatchData = { site_id: job.siteId, events };
    deliveryIds.push(
      ...(await createEventDeliveries(deps.pool, {
        siteId: job.siteId,
        type,
        timestamp: events.reduce(
          (latest, e) => (e.timestamp > latest ? e.timestamp : latest),
          events[0]!.timestamp,
        ),
        data,
        dedupeKey: `batch:${job.batchKey}:${type}`,
      })),
    );
  }
  await enqueueDeliveries(deps.deliveryQueue, deliveryIds);
  return { deliveries: deliveryIds.length };
}
