import { filterLevel, type Filter } from '../filters';
import { eventFilterCondition, goalCondition, matchValues, sessionFilterCondition } from './conditions';
import { resolveGoals } from './goals';
import { assertRawRetention, type QueryPlan, type StatsSqlContext } from './planner';
import type { ClickHouseQuery } from './query-params';
import { filteredVisits } from './relations';
import { isSessionAttribute, rawSessionAttribute, sessionAlias, TABLES } from './schema';
import { RAW_SESSION_MARGIN_MS, Scope, scopeOptions } from './scope';

/*
 * Endpoints that only raw events can answer: current visitors, funnels (event order per visitor),
 * heatmaps (click coordinates, scroll depth) and the event export.
 */

const RAW_PLAN: QueryPlan = { source: 'raw', fromRollups: false };

const and = (conditions: readonly string[]) => conditions.join('\n    AND ');

/**
 * Filters on events: event- and visitor-level ones on the row itself, session-level ones through
 * the visit's first event (its referrer, channel, utm) or its pageviews (entry and exit page),
 * rebuilt from events since `visitsFrom`: these endpoints read raw events anyway, and retention
 * covers the day before the period (`periodScope`), where a visit of the period may begin.
 */
function rawFilters(sc: Scope, filters: readonly Filter[], visitsFrom: string, visitsTo?: string): string[] {
  const onEvents = filters.filter((f) => filterLevel(f) !== 'session');
  const onVisits = filters.filter((f) => filterLevel(f) === 'session');
  const conditions = onEvents.map((f) => eventFilterCondition(sc.p, f, sc.goals));
  if (onVisits.length) {
    const window = [`site_id = ${sc.site}`, `timestamp >= ${visitsFrom}`];
    if (visitsTo) window.push(`timestamp < ${visitsTo}`);
    const attributes = [...new Set(onVisits.map((f) => f.key))].filter(isSessionAttribute);
    const columns = [
      'session_id',
      ...attributes.map((a) => `${rawSessionAttribute(a)} AS ${sessionAlias(a)}`),
    ];
    const grouped = `SELECT ${columns.join(', ')} FROM ${TABLES.events} WHERE ${and(window)} GROUP BY session_id`;
    const kept = onVisits.map((f) => sessionFilterCondition(sc.p, f, sessionAlias));
    conditions.push(`session_id IN (SELECT session_id FROM (${filteredVisits(grouped, kept)}))`);
  }
  return conditions;
}

/**
 * The scope of a raw endpoint's period, once raw retention covers it (with the day before when a
 * session-level filter rebuilds visits: see `rawFilters`).
 */
function periodScope(ctx: StatsSqlContext, filters: readonly Filter[], what: string): Scope {
  assertRawRetention(ctx, what, { rebuildsVisits: filters.some((f) => filterLevel(f) === 'session') });
  return new Scope(ctx.siteId, ctx.goals, ctx.timezone, ctx.period, scopeOptions(ctx));
}

/** The period's events of the site that pass the filters. */
function periodEvents(sc: Scope, filters: readonly Filter[]): string[] {
  return [
    `site_id = ${sc.site}`,
    `timestamp >= ${sc.start}`,
    `timestamp < ${sc.end}`,
    ...rawFilters(sc, filters, sc.startMargin, sc.end),
  ];
}

/** `current_visitors`: distinct visitors with an event in the last `minutes` (clamped to 1..60). */
export function buildRealtime(
  q: { minutes: number; filters: readonly Filter[] },
  ctx: Pick<StatsSqlContext, 'siteId' | 'now' | 'goals'>,
): ClickHouseQuery {
  const minutes = Math.min(60, Math.max(1, Math.trunc(q.minutes)));
  const sc = new Scope(ctx.siteId, ctx.goals);
  const since = ctx.now.getTime() - minutes * 60_000;
  const where = [
    `site_id = ${sc.site}`,
    `timestamp >= ${sc.p.instant(new Date(since))}`,
    ...rawFilters(sc, q.filters, sc.p.instant(new Date(since - RAW_SESSION_MARGIN_MS))),
  ];
  return sc.p.query(
    `SELECT uniq(visitor_id) AS current_visitors\nFROM ${TABLES.events}\nWHERE ${and(where)}`,
  );
}

/** A funnel step as stored (API.md). */
export type FunnelStep =
  { name: string; type: 'pageview'; url: string } | { name: string; type: 'goal'; goal_name: string };

export const DEFAULT_FUNNEL_WINDOW_SECONDS = 86_400;

/**
 * Rows `{level, visitors}`: how many visitors got exactly `level` steps far, in order, each step
 * within the window of the first (`windowFunnel`, on millisecond timestamps so that events of
 * the same second keep their order). Visitors who did not reach step 1 are left out.
 */
export function buildFunnel(
  q: { steps: readonly FunnelStep[]; filters: readonly Filter[]; windowSeconds?: number },
  ctx: StatsSqlContext,
): { sql: ClickHouseQuery; plan: QueryPlan } {
  if (q.steps.length < 2 || q.steps.length > 8) throw new Error('a funnel has 2 to 8 steps');
  const sc = periodScope(ctx, q.filters, 'A funnel');
  const conditions = q.steps.map((step) =>
    step.type === 'pageview'
      ? `(name = 'pageview' AND ${matchValues(sc.p, 'pathname', 'page', [step.url])})`
      : goalCondition(sc.p, resolveGoals([step.goal_name], sc.goals, 'funnel_id')[0]!),
  );
  const windowMs = sc.p.bind(Math.round((q.windowSeconds ?? DEFAULT_FUNNEL_WINDOW_SECONDS) * 1000), 'UInt64');
  const where = [...periodEvents(sc, q.filters), `(${conditions.join(' OR ')})`];
  const sql = [
    'SELECT level, count() AS visitors',
    'FROM (',
    `  SELECT visitor_id, windowFunnel(${windowMs})(toUInt64(toUnixTimestamp64Milli(timestamp)), ${conditions.join(', ')}) AS level`,
    `  FROM ${TABLES.events}`,
    `  WHERE ${and(where)}`,
    '  GROUP BY visitor_id',
    ')',
    'WHERE level > 0',
    'GROUP BY level',
    'ORDER BY level',
  ].join('\n');
  return { sql: sc.p.query(sql), plan: RAW_PLAN };
}

export interface FunnelResult {
  steps: Array<{ name: string; visitors: number; conversion_rate: number; drop_off: number }>;
  /** Visitors who completed the last step, in percent of those who did the first. */
  conversion_rate: number;
}

const percent = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((1000 * part) / whole) / 10);

/** Per step: visitors who reached it, their share of step 1, and how many the previous step lost. */
export function decodeFunnel(
  rows: ReadonlyArray<Record<string, unknown>>,
  steps: readonly FunnelStep[],
): FunnelResult {
  const exactly = new Map(rows.map((r) => [Number(r.level), Number(r.visitors)]));
  const reached = steps.map((_, i) => {
    let n = 0;
    for (const [level, visitors] of exactly) if (level >= i + 1) n += visitors;
    return n;
  });
  const first = reached[0] ?? 0;
  return {
    steps: steps.map((step, i) => ({
      name: step.name,
      visitors: reached[i]!,
      conversion_rate: percent(reached[i]!, first),
      drop_off: i === 0 ? 0 : reached[i - 1]! - reached[i]!,
    })),
    conversion_rate: percent(reached[reached.length - 1] ?? 0, first),
  };
}

export const DEFAULT_HEATMAP_GRID = 20;
export const SCROLL_DEPTHS = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100] as const;

/**
 * click: rows `{x, y, clicks}`, cells of a `gridSize` × `gridSize` grid over the page-relative
 * click position (0..1; a click at exactly 1 falls in the last cell). scroll: rows
 * `{depth, visitors}`, visitors whose deepest scroll on the page reached `depth` percent.
 */
export function buildHeatmap(
  q: { page: string; type: 'click' | 'scroll'; filters: readonly Filter[]; gridSize?: number },
  ctx: StatsSqlContext,
): { sql: ClickHouseQuery; plan: QueryPlan } {
  const sc = periodScope(ctx, q.filters, 'A heatmap');
  const where = [...periodEvents(sc, q.filters), matchValues(sc.p, 'pathname', 'page', [q.page])];
  if (q.type === 'click') {
    const n = sc.p.bind(q.gridSize ?? DEFAULT_HEATMAP_GRID, 'UInt32');
    const cell = (axis: string) => `least(toUInt32(floor(${axis} * ${n})), ${n} - 1)`;
    where.push('click_x IS NOT NULL', 'click_y IS NOT NULL');
    const sql = [
      `SELECT ${cell('click_x')} AS x, ${cell('click_y')} AS y, count() AS clicks`,
      `FROM ${TABLES.events}`,
      `WHERE ${and(where)}`,
      'GROUP BY x, y',
      'ORDER BY x, y',
    ].join('\n');
    return { sql: sc.p.query(sql), plan: RAW_PLAN };
  }
  const sql = [
    'SELECT depth, countIf(max_scroll >= depth) AS visitors',
    'FROM (',
    '  SELECT visitor_id, max(scroll_pct) AS max_scroll',
    `  FROM ${TABLES.events}`,
    `  WHERE ${and(where)}`,
    '  GROUP BY visitor_id',
    ')',
    `ARRAY JOIN [${SCROLL_DEPTHS.join(', ')}] AS depth`,
    'GROUP BY depth',
    'ORDER BY depth',
  ].join('\n');
  return { sql: sc.p.query(sql), plan: RAW_PLAN };
}

/** Every depth step, zeros included. */
export function decodeScroll(
  rows: ReadonlyArray<Record<string, unknown>>,
): Array<{ depth: number; visitors: number }> {
  const byDepth = new Map(rows.map((r) => [Number(r.depth), Number(r.visitors)]));
  return SCROLL_DEPTHS.map((depth) => ({ depth, visitors: byDepth.get(depth) ?? 0 }));
}

/**
 * Columns of `export?type=events`. The visitor and session hashes stay inside: an export leaves
 * the system, and they are the one thing that links a person's events together. Listed here
 * rather than derived from the events table's columns on purpose: a column added to storage must
 * not reach exports unseen. sql/engine.test.ts runs the export against the migrations.
 */
export const EXPORT_EVENT_COLUMNS = [
  'timestamp',
  'event_id',
  'name',
  'hostname',
  'pathname',
  'referrer',
  'referrer_domain',
  'channel',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
  'country',
  'region',
  'city',
  'device',
  'browser',
  'browser_version',
  'os',
  'os_version',
  'screen_width',
  'props',
  'revenue_amount',
  'revenue_currency',
  'engagement_time_ms',
  'scroll_pct',
  'click_x',
  'click_y',
  'link_url',
] as const;

/**
 * The period's raw events in time order, for streaming out (the caller picks the FORMAT). In CSV
 * the custom properties are one JSON object text, as ClickHouse would otherwise write a map in its
 * own literal syntax; NDJSON carries them as an object.
 */
export function buildEventExport(
  q: { filters: readonly Filter[]; format?: 'csv' | 'ndjson' },
  ctx: StatsSqlContext,
): { sql: ClickHouseQuery; plan: QueryPlan } {
  const sc = periodScope(ctx, q.filters, 'The event export');
  const columns = EXPORT_EVENT_COLUMNS.map((c) =>
    c === 'props' && q.format === 'csv' ? 'toJSONString(props) AS props' : c,
  );
  // Filtered a level below the conversion: there a `prop:` filter's `props[...]` is the map, not
  // the JSON text that takes its name (an alias wins over a column in ClickHouse).
  const events = [
    `SELECT ${EXPORT_EVENT_COLUMNS.join(', ')}`,
    `FROM ${TABLES.events}`,
    `WHERE ${and(periodEvents(sc, q.filters))}`,
  ].join('\n');
  const sql = `SELECT ${columns.join(', ')}\nFROM (\n${events}\n)\nORDER BY timestamp, event_id`;
  return { sql: sc.p.query(sql), plan: RAW_PLAN };
}
