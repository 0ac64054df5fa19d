import { z } from 'zod';

/**
 * Version 1 of the message ingest writes to Kafka and the consumer loads into ClickHouse. The
 * field names are the ClickHouse column names, so the consumer inserts rows as they are. Additive
 * changes keep `v: 1`; anything else is a new topic (`tidemark.events.v2`) so old and new
 * consumers never read each other's messages.
 */
export const ENRICHED_EVENT_VERSION = 1;

const dimension = z.string().max(2048);

export const enrichedEventV1 = z.strictObject({
  v: z.literal(ENRICHED_EVENT_VERSION),
  event_id: z.uuid(),
  site_id: z.uuid(),
  /** Ingest time, UTC, millisecond ISO string. */
  timestamp: z.iso.datetime({ offset: false, precision: 3 }),
  name: z.string().min(1).max(120),
  /** Daily-salted keyed hash of (site, IP, user agent) as an unsigned 64-bit decimal string. */
  visitor_id: z.string().regex(/^\d{1,20}$/),
  session_id: z.string().regex(/^\d{1,20}$/),
  hostname: dimension,
  pathname: dimension,
  referrer: dimension,
  referrer_domain: dimension,
  channel: z.string().max(64),
  utm_source: dimension,
  utm_medium: dimension,
  utm_campaign: dimension,
  utm_content: dimension,
  utm_term: dimension,
  country: z.string().regex(/^([A-Z]{2})?$/),
  region: z.string().max(128),
  city: z.string().max(128),
  device: z.string().max(32),
  browser: z.string().max(64),
  browser_version: z.string().max(32),
  os: z.string().max(64),
  os_version: z.string().max(32),
  screen_width: z.number().int().min(0),
  props: z.record(z.string(), z.string()),
  revenue_amount: z.number().nullable(),
  revenue_currency: z.string().regex(/^([A-Z]{3})?$/),
  engagement_time_ms: z.number().int().min(0),
  scroll_pct: z.number().min(0).max(100),
  click_x: z.number().min(0).max(1).nullable(),
  click_y: z.number().min(0).max(1).nullable(),
  link_url: dimension,
});

export type EnrichedEventV1 = z.infer<typeof enrichedEventV1>;

/** Kafka message key: a visitor's events share a partition and keep their order. */
export const eventMessageKey = (e: Pick<EnrichedEventV1, 'site_id' | 'visitor_id'>) =>
  `${e.site_id}:${e.visitor_id}`;
