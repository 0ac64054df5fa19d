import type { SummaryCatalog } from '@tidemark/clickhouse';
import { ApiError } from '@tidemark/http';
import { addDays, DAY_MS } from '../calendar';
import { filterLevel, filterParam, type Filter } from '../filters';
import {
  SESSION_PROPERTIES,
  VISIT_METRICS,
  VISITOR_PROPERTIES,
  type Metric,
  type Property,
} from '../metrics';
import type { Interval, ResolvedPeriod } from '../periods';
import { localDateAt, resolveLocalTime } from '../timezone';
import { goalMatch, resolveGoals, type GoalDefinition } from './goals';
import { ROLLUP_DIMENSIONS, ROLLUP_GRAIN_MS, type RollupDimension } from './schema';
import { RAW_SESSION_MARGIN_MS } from './scope';

export type DataSource = 'raw' | 'rollups';

/** How the rows of an answer are grouped. */
export type Grouping =
  { kind: 'total' } | { kind: 'bucket'; interval: Interval } | { kind: 'property'; property: Property };

/** The part of a stats query the SQL depends on. */
export interface StatsShape {
  metrics: readonly Metric[];
  filters: readonly Filter[];
  grouping: Grouping;
}

export interface StatsSqlContext {
  /** The site's UUID (already resolved from a `site_key`). */
  siteId: string;
  timezone: string;
  period: ResolvedPeriod;
  now: Date;
  rawRetentionDays: number;
  /** The site's goals, to resolve `goal` filters, the `goal` property and funnel steps. */
  goals?: readonly GoalDefinition[];
  /** Equivalence tests answer one query from both sources; production lets the planner choose. */
  forceSource?: DataSource;
  /**
   * The valid closed-month summaries (libs/clickhouse/src/summaries.ts). Without it, every period
   * is read from the rollups and `sessions_v3` alone; the answers are the same.
   */
  summaries?: SummaryCatalog;
}

/** Properties an event carries itself; grouping visits by them needs the visit's events. */
const EVENT_PROPERTIES: ReadonlySet<Property> = new Set(['page', 'hostname', 'event', 'goal', 'exit_link']);

export interface ShapeAnalysis {
  eventFilters: Filter[];
  visitorFilters: Filter[];
  sessionFilters: Filter[];
  property?: Property;
  /**
   * The query is about visits: a session-level filter or property selects visits, so every
   * metric is computed over the selected visits (visitors = their visitors, pageviews = their
   * pageviews). Otherwise event metrics are computed over the period's events.
   */
  visitScoped: boolean;
  /** Event metrics read events (or event rollups). */
  needsEvents: boolean;
  /** Some metrics read visits (or the `sessions` table). */
  needsVisits: boolean;
  /** The visits part must look at each visit's events: event-level filters or property. */
  needsVisitEvents: boolean;
}

export function analyzeShape(shape: StatsShape): ShapeAnalysis {
  const by = (level: string) => shape.filters.filter((f) => filterLevel(f) === level);
  const property = shape.grouping.kind === 'property' ? shape.grouping.property : undefined;
  const eventFilters = by('event');
  const sessionFilters = by('session');
  const visitScoped =
    sessionFilters.length > 0 || (property !== undefined && SESSION_PROPERTIES.has(property));
  const needsVisits = visitScoped || shape.metrics.some((m) => VISIT_METRICS.has(m));
  return {
    eventFilters,
    visitorFilters: by('visitor'),
    sessionFilters,
    ...(property ? { property } : {}),
    visitScoped,
    needsEvents: !visitScoped && shape.metrics.some((m) => !VISIT_METRICS.has(m)),
    needsVisits,
    needsVisitEvents:
      needsVisits && (eventFilters.length > 0 || (property !== undefined && EVENT_PROPERTIES.has(property))),
  };
}

/** Which rollup table answers the event metrics of a shape. */
export type EventRollup =
  | { table: 'site' }
  | { table: 'dimension'; dimension: RollupDimension }
  | { table: 'goals' }
  | { table: 'locations' };

type Choice<T> = { ok: true; value: T } | { ok: false; reason: string };

const LOCATION_KEYS: ReadonlySet<string> = new Set(['country', 'region', 'city']);

/** The rollup dimension a filter reads, if any can express it. */
function filterDimension(filter: Filter, goals: readonly GoalDefinition[]): Choice<string> {
  switch (filter.key) {
    case 'page':
    case 'hostname':
    case 'event':
    case 'device':
    case 'browser':
    case 'os':
      return { ok: true, value: filter.key };
    case 'country':
    case 'region':
    case 'city':
      return { ok: true, value: 'location' };
    case 'goal': {
      const kinds = new Set(resolveGoals(filter.values, goals).map((g) => goalMatch(g).kind));
      if (kinds.size > 1) return { ok: false, reason: 'a goal filter mixing event and page goals' };
      const [kind] = [...kinds];
      // "Not a page goal" includes every custom event, which the page rows do not hold.
      if (kind === 'page' && filter.negated) return { ok: false, reason: 'a negated page goal filter' };
      return { ok: true, value: kind === 'event' ? 'event' : 'page' };
    }
    default:
      return { ok: false, reason: `the ${filterParam(filter)} filter` };
  }
}

/**
 * The rollup that holds an event-scoped shape's event metrics: the site totals when nothing
 * narrows them, else the one dimension (or the location hierarchy) that every filter and the
 * property read. Two different dimensions cannot be combined: a rollup row has one.
 */
export function chooseEventRollup(
  filters: readonly Filter[],
  grouping: Grouping,
  goals: readonly GoalDefinition[],
): Choice<EventRollup> {
  const dimensions = new Set<string>();
  for (const filter of filters) {
    const dim = filterDimension(filter, goals);
    if (!dim.ok) return dim;
    dimensions.add(dim.value);
  }
  if (grouping.kind === 'property') {
    const property = grouping.property;
    if (property === 'goal') {
      return filters.length === 0
        ? { ok: true, value: { table: 'goals' } }
        : { ok: false, reason: 'a goal breakdown with filters' };
    }
    if (LOCATION_KEYS.has(property)) dimensions.add('location');
    else dimensions.add(property);
  }
  if (dimensions.size === 0) return { ok: true, value: { table: 'site' } };
  if (dimensions.size > 1)
    return { ok: false, reason: `filters across ${[...dimensions].sort().join(' and ')}` };
  const [dimension] = [...dimensions] as [string];
  if (dimension === 'location') return { ok: true, value: { table: 'locations' } };
  // The dimension is written into the SQL as a literal: only the rollup's own names may pass.
  if (!(ROLLUP_DIMENSIONS as readonly string[]).includes(dimension)) {
    return { ok: false, reason: `a breakdown by ${dimension}` };
  }
  return { ok: true, value: { table: 'dimension', dimension: dimension as RollupDimension } };
}

/** Filters of the denominator of `conversion_rate`: everything but what defines a conversion. */
export function conversionBaseFilters(filters: readonly Filter[]): Filter[] {
  return filters.filter((f) => f.key !== 'event' && f.key !== 'goal');
}

/**
 * Whether rollups (the 15-minute rollup tables plus the `sessions` table) answer the shape
 * exactly, and if not why, for the 422 message.
 */
export function rollupCoverage(shape: StatsShape, ctx: StatsSqlContext): Choice<null> {
  const a = analyzeShape(shape);
  const goals = ctx.goals ?? [];
  const start = ctx.period.startUtc.getTime();
  const end = ctx.period.endUtc.getTime();
  if (start % ROLLUP_GRAIN_MS !== 0 || end % ROLLUP_GRAIN_MS !== 0) {
    return { ok: false, reason: 'a period that does not start and end on a 15-minute boundary' };
  }
  if (a.needsVisitEvents) {
    return {
      ok: false,
      reason: a.eventFilters.length
        ? `visit metrics under the ${a.eventFilters.map(filterParam).join(', ')} filter`
        : `visit metrics by ${a.property}`,
    };
  }
  if (a.visitScoped) return { ok: true, value: null };
  if (a.needsEvents) {
    const choice = chooseEventRollup([...a.eventFilters, ...a.visitorFilters], shape.grouping, goals);
    if (!choice.ok) return choice;
  }
  if (a.needsVisits && a.property !== undefined && !VISITOR_PROPERTIES.has(a.property)) {
    return { ok: false, reason: `visit metrics by ${a.property}` };
  }
  if (shape.metrics.includes('conversion_rate')) {
    const base = chooseEventRollup(conversionBaseFilters(shape.filters), { kind: 'total' }, goals);
    if (!base.ok) return base;
  }
  return { ok: true, value: null };
}

export interface QueryPlan {
  source: DataSource;
  /** For `meta.from_rollups`. */
  fromRollups: boolean;
  /** Why raw events were needed, when they were. */
  reason?: string;
}

/** The oldest instant raw events still cover. */
export function rawRetentionFloor(ctx: Pick<StatsSqlContext, 'now' | 'rawRetentionDays'>): Date {
  return new Date(ctx.now.getTime() - ctx.rawRetentionDays * DAY_MS);
}

/**
 * 422 `unsupported_query` when raw events are needed before retention. A query that rebuilds
 * visits from raw events (visit metrics, session-level filters) also reads the day before its
 * period (RAW_SESSION_MARGIN_MS) to see where each visit began: if that day were partly expired, a
 * visit whose first events are gone would seem to start in the period, so the period must start
 * a margin later. The message names the first date that can be answered.
 */
export function assertRawRetention(
  ctx: StatsSqlContext,
  reason: string,
  opts: { rebuildsVisits?: boolean } = {},
): void {
  const needed = rawRetentionFloor(ctx).getTime() + (opts.rebuildsVisits ? RAW_SESSION_MARGIN_MS : 0);
  if (ctx.period.startUtc.getTime() >= needed) return;
  let first = localDateAt(ctx.timezone, needed);
  if (resolveLocalTime(ctx.timezone, first) < needed) first = addDays(first, 1);
  const visits = opts.rebuildsVisits ? ' (and the day before it, to rebuild visits)' : '';
  throw new ApiError(
    'unsupported_query',
    `${reason} needs raw events for the period${visits}, and raw events are kept ${ctx.rawRetentionDays} days; ` +
      `the period starts ${ctx.period.from}. Choose a period from ${first} on, or drop what needs raw events.`,
  );
}

/**
 * Rollups whenever they answer exactly (they are smaller and outlive raw retention), raw events
 * otherwise, which must then cover the whole period.
 */
export function planStatsQuery(shape: StatsShape, ctx: StatsSqlContext): QueryPlan {
  const coverage = rollupCoverage(shape, ctx);
  if (ctx.forceSource === 'rollups') {
    if (!coverage.ok) throw new Error(`rollups cannot answer this query: ${coverage.reason}`);
    return { source: 'rollups', fromRollups: true };
  }
  if (coverage.ok && ctx.forceSource !== 'raw') return { source: 'rollups', fromRollups: true };
  const reason = coverage.ok ? 'the query (raw events forced)' : coverage.reason;
  const a = analyzeShape(shape);
  assertRawRetention(ctx, reason.charAt(0).toUpperCase() + reason.slice(1), {
    rebuildsVisits: a.needsVisits,
  });
  // Visits matched with their raw events are read from `sessions_v3` unless raw events are forced
  // (relations.ts `visitPart`): part of the answer then comes from rollups.
  return { source: 'raw', fromRollups: a.needsVisitEvents && ctx.forceSource !== 'raw', reason };
}
