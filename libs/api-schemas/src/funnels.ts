import { z } from 'zod';
import { label, timestamp, uuid } from './common';
import { goalName, pagePath } from './goals';

export const FUNNEL_MIN_STEPS = 2;
export const FUNNEL_MAX_STEPS = 8;
export const FUNNEL_DEFAULT_WINDOW_MINUTES = 1440;

export const funnelStep = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ name: label(120), type: z.literal('pageview'), url: pagePath }),
    z.strictObject({ name: label(120), type: z.literal('goal'), goal_name: goalName }),
  ],
  { error: 'must be "pageview" (with url) or "goal" (with goal_name)' },
);
export type FunnelStep = z.output<typeof funnelStep>;

const steps = z
  .array(funnelStep)
  .min(FUNNEL_MIN_STEPS, `must have ${FUNNEL_MIN_STEPS} to ${FUNNEL_MAX_STEPS} steps`)
  .max(FUNNEL_MAX_STEPS, `must have ${FUNNEL_MIN_STEPS} to ${FUNNEL_MAX_STEPS} steps`);

/** 30 days at most: the database bounds it the same way. */
const windowMinutes = z
  .number({ error: 'must be a whole number of minutes' })
  .int('must be a whole number of minutes')
  .min(1, 'must be at least 1')
  .max(43_200, 'must be at most 43200 (30 days)')
  .meta({ description: 'A visitor counts for step N only after steps 1..N-1, in order, within this window' });

export const createFunnelBody = z.strictObject({
  name: label(120),
  steps,
  window_minutes: windowMinutes
    .optional()
    .meta({ description: `Default ${FUNNEL_DEFAULT_WINDOW_MINUTES} (24 h)` }),
});

export const updateFunnelBody = z
  .strictObject({
    name: label(120).optional(),
    steps: steps.optional(),
    window_minutes: windowMinutes.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, {
    error: 'send at least one of name, steps, window_minutes',
    when: (payload) => payload.issues.length === 0,
  });

export const funnelParams = z.strictObject({ site: z.string().max(100), id: uuid });

export const funnel = z.object({
  id: uuid,
  site_id: uuid,
  name: z.string(),
  steps: z.array(
    z.union([
      z.object({ name: z.string(), type: z.literal('pageview'), url: z.string() }),
      z.object({ name: z.string(), type: z.literal('goal'), goal_name: z.string() }),
    ]),
  ),
  window_minutes: z.number().int(),
  created_at: timestamp,
  updated_at: timestamp,
});
