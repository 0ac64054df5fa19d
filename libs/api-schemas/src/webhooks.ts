import { checkWebhookUrl, WEBHOOK_EVENT_TYPES } from '@tidemark/webhooks';
import { z } from 'zod';
import { label, pagination, queryInt, timestamp, uuid } from './common';

const WEBHOOK_URL_MAX = 2048;

/**
 * An absolute http(s) URL without credentials, normalized (lower-case scheme and host) so what is
 * stored is what the worker connects to. Whether its host may be private is the api's
 * configuration, checked by the route.
 */
export const webhookUrl = z
  .string()
  .trim()
  .max(WEBHOOK_URL_MAX, `must be at most ${WEBHOOK_URL_MAX} characters`)
  .transform((value, ctx) => {
    const problem = checkWebhookUrl(value, { allowPrivateTargets: true });
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    const href = new URL(value).href;
    // Percent-encoding and punycode can make the stored form several times longer than the input.
    if (href.length > WEBHOOK_URL_MAX) {
      ctx.addIssue({
        code: 'custom',
        message: `must be at most ${WEBHOOK_URL_MAX} characters once percent-encoded`,
      });
      return z.NEVER;
    }
    return href;
  })
  .meta({ description: 'http or https; loopback, private, link-local and metadata addresses are refused' });

export const webhookEvents = z
  .array(z.enum(WEBHOOK_EVENT_TYPES, { error: `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` }))
  .min(1, 'must list at least one event type')
  .max(10, 'must have at most 10 entries')
  .transform((list) => [...new Set(list)]);

const description = label(500).nullable();

export const createWebhookBody = z.strictObject({
  url: webhookUrl,
  events: webhookEvents,
  description: description.optional(),
  is_enabled: z.boolean().optional().meta({ description: 'Default true' }),
});

export const updateWebhookBody = z
  .strictObject({
    url: webhookUrl.optional(),
    events: webhookEvents.optional(),
    description: description.optional(),
    is_enabled: z.boolean().optional().meta({
      description: 'true also clears an automatic disabling (disabled_at, disabled_reason, failing_since)',
    }),
  })
  .refine((body) => Object.keys(body).length > 0, {
    error: 'send at least one of url, events, description, is_enabled',
    when: (payload) => payload.issues.length === 0,
  });

export const webhookParams = z.strictObject({ site: z.string().max(100), id: uuid });

export const deliveryParams = z.strictObject({
  site: z.string().max(100),
  id: uuid,
  delivery_id: z.string().regex(/^msg_[0-9a-f]{32}$/),
});

export const webhook = z.object({
  id: uuid,
  site_id: uuid,
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
  description: z.string().nullable(),
  is_enabled: z.boolean(),
  failing_since: timestamp
    .nullable()
    .meta({ description: 'Start of the current run of failed attempts; null after any success' }),
  disabled_at: timestamp
    .nullable()
    .meta({ description: 'When delivery disabled the endpoint itself (410 Gone, or failing too long)' }),
  disabled_reason: z.string().nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});

export const createdWebhook = webhook.extend({
  secret: z.string().meta({
    description:
      'whsec_<base64>: verifies the webhook-signature header (Standard Webhooks); shown in this answer only',
  }),
});

export const deliveriesQuery = z.strictObject({
  page_number: queryInt(1, 1_000_000, 1),
  limit: queryInt(1, 100, 20),
});

export const deliveryAttempt = z.object({
  attempt: z.number().int(),
  status_code: z.number().int().nullable().meta({ description: 'null when no answer came (see error)' }),
  latency_ms: z.number().int(),
  response_excerpt: z.string().nullable().meta({ description: 'At most the first KiB of the answer' }),
  error: z.string().nullable(),
  manual: z.boolean().meta({ description: 'A redelivery asked for through the API' }),
  at: timestamp,
});

export const delivery = z.object({
  id: z.string().meta({ description: 'msg_...: the webhook-id header of every attempt' }),
  event_type: z.string(),
  status: z.enum(['pending', 'retrying', 'succeeded', 'failed']),
  is_test: z.boolean(),
  payload: z
    .object({ type: z.string(), timestamp: z.string(), data: z.unknown() })
    .meta({ description: 'The body every attempt sends' }),
  next_attempt_at: timestamp.nullable(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  created_at: timestamp,
  completed_at: timestamp.nullable(),
  attempts: z.array(deliveryAttempt).meta({ description: 'Oldest first' }),
});

export const deliveryPage = z.object({ data: z.array(delivery), pagination });
