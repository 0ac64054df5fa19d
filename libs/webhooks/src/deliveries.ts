import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { WEBHOOK_TEST_EVENT_TYPE, type TestEventData, type WebhookEventType } from './events';
import type { WebhookPayload } from './signing';

/** A pool or a client inside a transaction. */
export type Queryable = pg.Pool | pg.PoolClient;

export interface NewEventDeliveries {
  siteId: string;
  type: WebhookEventType;
  /** When the event happened. */
  timestamp: string;
  data: unknown;
  /**
   * Identifies the event among all events of the site (`goal:<event id>:<goal>`, ...): creating the
   * deliveries of one event twice (a job re-run after a crash) returns the first ones.
   */
  dedupeKey: string;
}

/**
 * Creates one delivery (status `pending`) per enabled subscription of the site that asked for this
 * event type, and returns their ids (the `webhook-id` of every attempt). The caller enqueues them
 * once its transaction committed.
 */
export async function createEventDeliveries(db: Queryable, event: NewEventDeliveries): Promise<string[]> {
  const payload: WebhookPayload = { type: event.type, timestamp: event.timestamp, data: event.data };
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO webhook_deliveries (subscription_id, event_type, payload, dedupe_key)
     SELECT s.id, $2, $3, $4
       FROM webhook_subscriptions s
      WHERE s.site_id = $1 AND s.is_enabled AND $2 = ANY (s.events)
     ON CONFLICT (subscription_id, dedupe_key) DO UPDATE SET dedupe_key = EXCLUDED.dedupe_key
     RETURNING id`,
    [event.siteId, event.type, JSON.stringify(payload), event.dedupeKey],
  );
  return rows.map((r) => r.id);
}

/**
 * A `webhook.test` delivery to one subscription, enabled or not (`POST .../webhooks/{id}/test`).
 * Null when the subscription does not exist. Enqueue the id with `enqueueDelivery`.
 */
export async function createTestDelivery(db: Queryable, subscriptionId: string): Promise<string | null> {
  const now = new Date().toISOString();
  const data: TestEventData = {
    subscription_id: subscriptionId,
    message: 'This is a test delivery from Tidemark.',
  };
  const payload: WebhookPayload<TestEventData> = { type: WEBHOOK_TEST_EVENT_TYPE, timestamp: now, data };
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO webhook_deliveries (subscription_id, event_type, payload, dedupe_key, is_test)
     SELECT id, $2, $3, $4, true FROM webhook_subscriptions WHERE id = $1
     RETURNING id`,
    [subscriptionId, WEBHOOK_TEST_EVENT_TYPE, JSON.stringify(payload), `test:${randomUUID()}`],
  );
  return rows[0]?.id ?? null;
}
