import {
  BREAKDOWN_PROPERTIES,
  COMPARE_MODES,
  FILTER_KEYS,
  INTERVALS,
  MAX_LIMIT,
  PERIOD_PRESETS,
  SCROLL_DEPTHS,
} from '@tidemark/stats-query';
import { z } from 'zod';
import { pagination } from './common';

/*
 * The Stats endpoints (API.md "Stats"). Query strings are parsed by `parseStatsQuery` of
 * `@tidemark/stats-query`, which knows every rule (the metrics of each property, `from`/`to` only
 * with `custom`, the filters) and words every refusal; the schemas here only describe the
 * parameters for the OpenAPI document, as plain strings, and let every other parameter through to
 * it, so that one validator decides and an unknown parameter is refused there by name.
 */

const text = (description: string) => z.string().optional().meta({ description });
const oneOf = (values: readonly string[], description = '') =>
  text(`One of ${values.join(', ')}${description ? `. ${description}` : ''}`);

const FILTER_DESCRIPTION =
  'Filter: a value matches exactly, `a|b` any of them, a leading `!` negates (`!US|CA`)';

const filterParams = Object.fromEntries(
  FILTER_KEYS.map((key) => [
    key,
    text(
      `${FILTER_DESCRIPTION}${['page', 'entry_page', 'exit_page', 'hostname'].includes(key) ? '; `*` is a wildcard' : ''}. Custom properties filter as \`prop:<name>=value\`.`,
    ),
  ]),
);

const commonParams = {
  site_id: text('Site id or site_key; implied by a site API key'),
  period: oneOf(PERIOD_PRESETS, 'Default 30d; `custom` needs `from` and `to`'),
  from: text('YYYY-MM-DD in the site timezone, with period=custom only'),
  to: text('YYYY-MM-DD in the site timezone, with period=custom only'),
  ...filterParams,
};

const metricsParam = text(
  'Comma-separated: visitors, visits, pageviews, views_per_visit, bounce_rate, visit_duration, events (default visitors)',
);

export const aggregateQuery = z.looseObject({
  ...commonParams,
  metrics: metricsParam,
  compare: oneOf(COMPARE_MODES),
});

export const timeseriesQuery = z.looseObject({
  ...commonParams,
  metrics: metricsParam,
  interval: oneOf(INTERVALS, 'Default hour for 24h and one-day periods, else day'),
});

export const breakdownQuery = z.looseObject({
  ...commonParams,
  property: oneOf(BREAKDOWN_PROPERTIES, 'Required'),
  metrics: text('Comma-separated; which ones each property takes is listed in API.md'),
  sort: text('<metric>.asc or <metric>.desc; default visitors.desc (or the first metric)'),
  limit: text(`1..${MAX_LIMIT}, default 10`),
  page_number: text('From 1'),
});

export const realtimeQuery = z.looseObject({
  ...commonParams,
  minutes: text('Window, clamped to 1..60; default 5'),
});

export const funnelQuery = z.looseObject({
  ...commonParams,
  funnel_id: text('Required: a funnel of the site'),
});

export const heatmapQuery = z.looseObject({
  ...commonParams,
  page: text('Required: the page path (`*` wildcards allowed); not a filter here'),
  type: oneOf(['click', 'scroll'], 'Default click'),
});

export const exportQuery = z.looseObject({
  ...commonParams,
  format: oneOf(['csv', 'ndjson'], 'Default csv'),
  type: oneOf(['events', 'daily'], 'events: raw events within retention; daily (default): one row per day'),
});

const statsPeriod = z.object({
  from: z.string().meta({ description: 'First day, YYYY-MM-DD in the site timezone' }),
  to: z.string().meta({ description: 'Last day (inclusive)' }),
  preset: z.enum(PERIOD_PRESETS),
});

const statsMeta = z.object({
  timezone: z.string(),
  from_rollups: z.boolean().meta({ description: 'True when any part of the answer came from rollups' }),
});

const metricValues = z.record(z.string(), z.number()).meta({
  description: 'The requested metrics: bounce_rate and conversion_rate in percent, visit_duration in seconds',
});

export const aggregateResponse = z.object({
  period: statsPeriod,
  metrics: metricValues,
  comparison: z
    .object({
      period: statsPeriod,
      metrics: metricValues,
      change: z.record(z.string(), z.number().nullable()).meta({
        description:
          'Percent change per metric (one decimal; null when the previous value is 0 and the current is not); points of difference for rates',
      }),
    })
    .optional(),
  meta: statsMeta,
});

export const timeseriesResponse = z.object({
  period: statsPeriod,
  interval: z.enum(INTERVALS),
  results: z.array(
    z.looseObject({ date: z.string().meta({ description: 'UTC ISO 8601 start of the bucket' }) }),
  ),
  meta: statsMeta,
});

export const breakdownResponse = z.object({
  property: z.enum(BREAKDOWN_PROPERTIES),
  period: statsPeriod,
  results: z.array(z.looseObject({ value: z.string() })),
  pagination,
  meta: statsMeta,
});

export const realtimeResponse = z.object({
  current_visitors: z.number().int(),
  window_minutes: z.number().int(),
});

export const funnelResponse = z.object({
  funnel: z.object({ id: z.string(), name: z.string(), window_minutes: z.number().int() }),
  period: statsPeriod,
  steps: z.array(
    z.object({
      name: z.string(),
      visitors: z
        .number()
        .int()
        .meta({ description: 'Visitors who did this step after all the earlier ones' }),
      conversion_rate: z.number().meta({ description: 'Percent of the visitors of step 1' }),
      drop_off: z
        .number()
        .int()
        .meta({ description: 'Visitors of the previous step who did not do this one' }),
    }),
  ),
  conversion_rate: z.number().meta({ description: 'Percent of step 1 visitors who did the last step' }),
  meta: statsMeta,
});

export const heatmapResponse = z.discriminatedUnion('type', [
  z.object({
    page: z.string(),
    type: z.literal('click'),
    period: statsPeriod,
    grid_size: z.number().int().meta({ description: 'Cells per side; x and y are 0..grid_size-1' }),
    results: z.array(z.object({ x: z.number().int(), y: z.number().int(), clicks: z.number().int() })),
    meta: statsMeta,
  }),
  z.object({
    page: z.string(),
    type: z.literal('scroll'),
    period: statsPeriod,
    results: z.array(z.object({ depth: z.number().int(), visitors: z.number().int() })).meta({
      description: `Visitors whose deepest scroll reached each depth (${SCROLL_DEPTHS.join(', ')})`,
    }),
    meta: statsMeta,
  }),
]);
