import { z } from 'zod';

/** What a subscription can ask for (API.md, Webhooks). */
export const WEBHOOK_EVENT_TYPES = ['pageview', 'event', 'goal.completed', 'alert.triggered'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Sent by `POST .../webhooks/{id}/test` whatever the subscription's event types. */
export const WEBHOOK_TEST_EVENT_TYPE = 'webhook.test';

/** `pageview` and `event` deliveries carry at most this many events. */
export const WEBHOOK_BATCH_MAX = 100;

/**
 * One tracked event as webhooks show it: what the stats API can filter on, without the visitor and
 * session hashes (a receiver has no use for them and they are pseudonymous identifiers).
 */
export const webhookEventItem = z.object({
  event_id: z.uuid(),
  name: z.string().min(1).max(120),
  timestamp: z.iso.datetime({ offset: false }),
  hostname: z.string(),
  pathname: z.string(),
  referrer: z.string(),
  channel: z.string(),
  utm_source: z.string(),
  utm_medium: z.string(),
  utm_campaign: z.string(),
  utm_content: z.string(),
  utm_term: z.string(),
  country: z.string(),
  region: z.string(),
  city: z.string(),
  device: z.string(),
  browser: z.string(),
  os: z.string(),
  props: z.record(z.string(), z.string()),
  revenue: z.object({ amount: z.number(), currency: z.string() }).nullable(),
});
export type WebhookEventItem = z.infer<typeof webhookEventItem>;

/** The fields of an enriched event (libs/events `EnrichedEventV1`) that webhooks show. */
export interface EnrichedEventFields extends Omit<WebhookEventItem, 'revenue'> {
  revenue_amount: number | null;
  revenue_currency: string;
}

export function toWebhookEventItem(e: EnrichedEventFields): WebhookEventItem {
  return {
    event_id: e.event_id,
    name: e.name,
    timestamp: e.timestamp,
    hostname: e.hostname,
    pathname: e.pathname,
    referrer: e.referrer,
    channel: e.channel,
    utm_source: e.utm_source,
    utm_medium: e.utm_medium,
    utm_campaign: e.utm_campaign,
    utm_content: e.utm_content,
    utm_term: e.utm_term,
    country: e.country,
    region: e.region,
    city: e.city,
    device: e.device,
    browser: e.browser,
    os: e.os,
    props: e.props,
    revenue: e.revenue_amount === null ? null : { amount: e.revenue_amount, currency: e.revenue_currency },
  };
}

/** `data` of `pageview` and `event` deliveries. */
export interface EventBatchData {
  site_id: string;
  events: WebhookEventItem[];
}

/** `data` of `goal.completed`. */
export interface GoalCompletedData {
  site_id: string;
  goal_name: string;
  event_id: string;
  completed_at: string;
}

/** `data` of `alert.triggered`. */
export interface AlertTriggeredData {
  site_id: string;
  alert_id: string;
  alert_name: string;
  /** The alert's trigger as configured: `{goal_name}` or `{metric, window_minutes, op, value}`. */
  trigger: Record<string, unknown>;
  /** The measured metric for threshold alerts; null for goal alerts. */
  value: number | null;
  /** The measured window for threshold alerts; null for goal alerts. */
  window: { from: string; to: string } | null;
  /** The goal completion that fired a goal alert; null for threshold alerts. */
  event_id: string | null;
  subject: string;
  message: string;
  triggered_at: string;
}

/** `data` of `webhook.test`. */
export interface TestEventData {
  subscription_id: string;
  message: string;
}
