import { z } from 'zod';
import { checked, label, timestamp, uuid } from './common';
import { pagePathProblem } from './validators';

/** Goals, funnels and alerts name each other by these (the database bounds them the same way). */
export const GOAL_NAME_MAX = 120;

export const goalName = label(GOAL_NAME_MAX);

/** A custom event name, as the tracker sends it (`tidemark('signup')`). */
export const eventName = label(GOAL_NAME_MAX);

export const pagePath = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .superRefine(checked(pagePathProblem))
  .meta({ description: 'A path such as /pricing; a trailing * matches every path starting with the rest' });

export const createGoalBody = z
  .strictObject({
    name: goalName,
    event_name: eventName.nullish(),
    page_path: pagePath.nullish(),
  })
  .superRefine((body, ctx) => {
    if ((body.event_name == null) === (body.page_path == null)) {
      const message = 'give exactly one of event_name and page_path';
      ctx.addIssue({ code: 'custom', path: ['event_name'], message });
      ctx.addIssue({ code: 'custom', path: ['page_path'], message });
    }
  })
  .meta({ description: 'Completed by a custom event of that name, or by a pageview of that path' });

export const goalParams = z.strictObject({ site: z.string().max(100), id: uuid });

export const goal = z.object({
  id: uuid,
  site_id: uuid,
  name: z.string(),
  event_name: z.string().nullable(),
  page_path: z.string().nullable(),
  events_last_30d: z.number().int().nullable().meta({
    description: 'Events completing the goal in the last 30 days; null while ClickHouse is unreachable',
  }),
  created_at: timestamp,
});
