import { z } from 'zod';
import { checked, label, queryInt, timestamp, uuid } from './common';
import { goalName } from './goals';
import { unpairedSurrogateProblem } from './validators';

export const ALERT_METRICS = ['visitors', 'pageviews', 'events'] as const;
export const ALERT_OPS = ['gt', 'lt'] as const;

const goalTrigger = z
  .strictObject({ goal_name: goalName })
  .meta({ description: 'Fires each time the goal completes (subject to the cooldown)' });

const thresholdTrigger = z
  .strictObject({
    metric: z.enum(ALERT_METRICS, { error: `must be one of ${ALERT_METRICS.join(', ')}` }),
    window_minutes: z
      .number({ error: 'must be a whole number of minutes' })
      .int('must be a whole number of minutes')
      .min(1, 'must be at least 1')
      .max(43_200, 'must be at most 43200 (30 days)'),
    op: z.enum(ALERT_OPS, { error: 'must be gt or lt' }),
    value: z
      .number({ error: 'must be a number' })
      .min(0, 'must not be negative')
      .max(1e12, 'must be at most 1e12'),
  })
  .meta({
    description: 'Fires when the metric over the last window_minutes is above (gt) or below (lt) value',
  });

/**
 * The union, validated against the branch the object's keys choose (`goal_name` or not), so a bad
 * field is reported by name. zod alone would answer only "matches neither" for e.g. an unknown
 * metric, because both branches then fail outright.
 */
export const alertTrigger = z.preprocess(
  (value, ctx) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    const branch = 'goal_name' in value ? goalTrigger : thresholdTrigger;
    const result = branch.safeParse(value);
    if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ ...issue });
    return value;
  },
  z.union([goalTrigger, thresholdTrigger], {
    error: 'must be {goal_name} or {metric, window_minutes, op, value}',
  }),
);
export type AlertTrigger = z.output<typeof alertTrigger>;

export const alertTemplate = z
  .strictObject({
    subject: label(200),
    message: z
      .string()
      .max(5_000, 'must be at most 5000 characters')
      // Line breaks and tabs are fine in a message body; other control characters are not.
      .regex(/^[\n\r\t\P{Cc}]*$/u, 'must not contain control characters other than line breaks and tabs')
      .superRefine(checked(unpairedSurrogateProblem)),
  })
  .meta({
    description:
      'Placeholders: {{alert_name}}, {{site_domain}}, {{goal_name}} (goal alerts), {{metric}}, {{value}}, {{op}}, {{threshold}}, {{window_minutes}} (threshold alerts)',
  });

const cooldownMinutes = z
  .number({ error: 'must be a whole number of minutes' })
  .int('must be a whole number of minutes')
  .min(0, 'must not be negative')
  .max(43_200, 'must be at most 43200 (30 days)');

export const createAlertBody = z.strictObject({
  name: label(120),
  trigger: alertTrigger,
  template: alertTemplate,
  is_enabled: z.boolean().optional().meta({ description: 'Default true' }),
  cooldown_minutes: cooldownMinutes
    .optional()
    .meta({ description: 'Minimum time between two firings; default 60' }),
});

export const updateAlertBody = z
  .strictObject({
    name: label(120).optional(),
    trigger: alertTrigger.optional(),
    template: alertTemplate.optional(),
    is_enabled: z.boolean().optional(),
    cooldown_minutes: cooldownMinutes.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, {
    error: 'send at least one of name, trigger, template, is_enabled, cooldown_minutes',
    when: (payload) => payload.issues.length === 0,
  });

export const alertParams = z.strictObject({ site: z.string().max(100), id: uuid });

export const alert = z.object({
  id: uuid,
  site_id: uuid,
  name: z.string(),
  trigger: z.union([
    z.object({ goal_name: z.string() }),
    z.object({
      metric: z.enum(ALERT_METRICS),
      window_minutes: z.number().int(),
      op: z.enum(ALERT_OPS),
      value: z.number(),
    }),
  ]),
  template: z.object({ subject: z.string(), message: z.string() }),
  is_enabled: z.boolean(),
  cooldown_minutes: z.number().int(),
  last_fired_at: timestamp.nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});

export const ALERT_HISTORY_MAX = 200;

export const alertHistoryQuery = z.strictObject({
  alert_id: uuid.optional().meta({ description: 'Only this alert’s firings' }),
  limit: queryInt(1, ALERT_HISTORY_MAX, 50),
});

export const alertFiring = z.object({
  id: uuid,
  alert_id: uuid,
  alert_name: z.string(),
  fired_at: timestamp,
  value: z.number().nullable().meta({ description: 'The measured metric (threshold alerts)' }),
  window: z
    .object({ from: timestamp, to: timestamp })
    .nullable()
    .meta({ description: 'The measured window (threshold alerts)' }),
  event_id: uuid.nullable().meta({ description: 'The event that completed the goal (goal alerts)' }),
  subject: z.string(),
  message: z.string(),
});
