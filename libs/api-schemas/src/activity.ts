import { z } from 'zod';
import { timestamp, uuid } from './common';

export const ACTIVITY_PAGE_MAX = 100;

export const activityQuery = z.strictObject({
  limit: z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(ACTIVITY_PAGE_MAX, `must be at most ${ACTIVITY_PAGE_MAX}`)
    .default(50),
  before: z
    .string()
    .regex(/^[1-9]\d{0,17}$/, 'must be the next_before value of a previous page')
    .optional()
    .meta({ description: 'Cursor: the `meta.next_before` of the previous page' }),
});

export const activityEntry = z.object({
  id: z.string(),
  action: z.string().meta({ description: 'resource.verb, e.g. site.created, api_key.rolled' }),
  resource_type: z.string(),
  resource_id: z.string(),
  site_id: uuid.nullable(),
  actor: z.object({
    user_id: uuid.nullable(),
    email: z.string().nullable(),
    token_id: z.string().nullable().meta({ description: 'The account token used, if any' }),
  }),
  metadata: z.record(z.string(), z.unknown()),
  created_at: timestamp,
});

export const activityPage = z.object({
  data: z.array(activityEntry),
  meta: z.object({
    limit: z.number().int(),
    next_before: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `before` for the next (older) page; null at the end' }),
  }),
});
