import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/**
 * A new signing secret, `whsec_<base64 of 32 random bytes>`, the format Standard Webhooks libraries
 * accept as is, so receivers can hand it straight to their verifier.
 */
export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** What every delivery's body holds. */
export interface WebhookPayload<T = unknown> {
  type: string;
  /** When the event happened (ISO 8601 UTC), not when this attempt was sent. */
  timestamp: string;
  data: T;
}

/** The body as sent: always the same key order, so every attempt of a delivery has the same bytes. */
export function serializePayload(payload: WebhookPayload): string {
  return JSON.stringify({ type: payload.type, timestamp: payload.timestamp, data: payload.data });
}

export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export interface SignInput {
  secret: string;
  /** The delivery id: the same on every attempt, so receivers can deduplicate. */
  id: string;
  body: string;
  /** The attempt's time; receivers reject timestamps too far from their clock. */
  timestamp?: Date;
}

/** Standard Webhooks headers: `v1,<base64 HMAC-SHA256 of "{id}.{seconds}.{body}">`. */
export function signWebhook({ secret, id, body, timestamp = new Date() }: SignInput): WebhookHeaders {
  const signature = new Webhook(secret).sign(id, timestamp, body);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1_000)),
    'webhook-signature': signature,
  };
}
