import type { Filter } from '../filters';
import { DAILY_EXPORT_METRICS, isMetric, type Metric, type Property } from '../metrics';
import type { BreakdownSort } from '../params';
import { resolveInterval, timeseriesBuckets, type Bucket, type Interval } from '../periods';
import {
  analyzeShape,
  chooseEventRollup,
  conversionBaseFilters,
  planStatsQuery,
  type DataSource,
  type QueryPlan,
  type ShapeAnalysis,
  type StatsShape,
  type StatsSqlContext,
} from './planner';
import type { ClickHouseQuery } from './query-params';
import { rawEventPart, rollupEventPart, visitPart, type EventColumn, type VisitColumn } from './relations';
import { Scope, scopeOptions } from './scope';

/** The columns a query's metric expressions read, so each part computes only those. */
class UsedColumns {
  readonly events = new Set<EventColumn>();
  readonly visits = new Set<VisitColumn>();

  e(column: EventColumn): string {
    this.events.add(column);
    return column;
  }

  v(column: VisitColumn): string {
    this.visits.add(column);
    return column;
  }
}

/**
 * How each metric comes out of the event part (`e_*`) and the visit part (`v_*`). Rates are
 * rounded as API.md asks (percent with one decimal; duration in whole seconds) and are 0, not
 * NaN, when there is nothing to divide.
 */
function metricExpr(metric: Metric, a: ShapeAnalysis, use: UsedColumns): string {
  const fromVisits = a.visitScoped;
  const visitors = () => (fromVisits ? use.v('v_visitors') : use.e('e_visitors'));
  /** A rate over visits, 0 when there are none. */
  const perVisit = (column: VisitColumn, scaled: (ratio: string) => string) => {
    const visits = use.v('v_visits');
    return `if(${visits} = 0, 0, ${scaled(`${use.v(column)} / ${visits}`)})`;
  };
  switch (metric) {
    case 'visitors':
      return visitors();
    case 'pageviews':
      return fromVisits ? use.v('v_pageviews') : use.e('e_pageviews');
    case 'events':
    case 'clicks':
      return fromVisits ? use.v('v_events') : use.e('e_events');
    case 'visits':
    case 'entries':
    case 'exits':
      return use.v('v_visits');
    case 'bounce_rate':
      return perVisit('v_bounces', (r) => `round(100 * ${r}, 1)`);
    case 'visit_duration':
      return perVisit('v_duration_ms', (r) => `round(${r} / 1000)`);
    case 'views_per_visit':
      return perVisit('v_session_pageviews', (r) => `round(${r}, 2)`);
    case 'conversion_rate':
      return `if(total_visitors = 0, 0, round(100 * ${visitors()} / total_visitors, 1))`;
  }
}

function eventPart(
  sc: Scope,
  shape: StatsShape,
  a: ShapeAnalysis,
  source: DataSource,
  columns: readonly EventColumn[],
): string {
  const filters = [...a.eventFilters, ...a.visitorFilters];
  if (source === 'raw') return rawEventPart(sc, filters, shape.grouping, columns);
  const choice = chooseEventRollup(filters, shape.grouping, sc.goals);
  if (!choice.ok) throw new Error(`planned rollups for a query they cannot answer: ${choice.reason}`);
  return rollupEventPart(sc, filters, shape.grouping, choice.value, columns);
}

/** The visitors a conversion rate divides by: the same query without the event and goal filters. */
function totalVisitors(sc: Scope, filters: readonly Filter[], source: DataSource): string {
  const shape: StatsShape = {
    metrics: ['visitors'],
    filters: conversionBaseFilters(filters),
    grouping: { kind: 'total' },
  };
  const a = analyzeShape(shape);
  return a.visitScoped
    ? `SELECT v_visitors FROM (\n${visitPart(sc, a, shape.grouping, source, ['v_visitors'])}\n)`
    : `SELECT e_visitors FROM (\n${eventPart(sc, shape, a, source, ['e_visitors'])}\n)`;
}

/**
 * The SELECT for a shape: the event part and/or the visit part, joined on the group column
 * (`FULL OUTER JOIN ... USING g`: a group present on one side only gets zeros on the other), and
 * the requested metrics, named as API.md names them. `groupAs` names the group column.
 */
function statsSelect(
  sc: Scope,
  shape: StatsShape,
  source: DataSource,
  columns: readonly Metric[],
  groupAs?: string,
): string {
  // Metric names become column aliases: only known names may reach the text.
  for (const m of columns) if (!isMetric(m)) throw new Error(`unknown metric ${JSON.stringify(m)}`);
  const a = analyzeShape(shape);
  const grouped = shape.grouping.kind !== 'total';
  const use = new UsedColumns();
  const select = [
    ...(grouped && groupAs ? [`g AS ${groupAs}`] : []),
    ...columns.map((m) => `${metricExpr(m, a, use)} AS ${m}`),
  ];
  const parts: Array<[string, string]> = [];
  if (a.needsEvents) parts.push(['e', eventPart(sc, shape, a, source, [...use.events])]);
  if (a.needsVisits) parts.push(['v', visitPart(sc, a, shape.grouping, source, [...use.visits])]);
  const join = grouped ? 'FULL OUTER JOIN' : 'CROSS JOIN';
  const from = parts
    .map(
      ([alias, sql], i) => `${i ? `${join} ` : ''}(\n${sql}\n) AS ${alias}${i && grouped ? ' USING g' : ''}`,
    )
    .join('\n');
  const withTotal = columns.includes('conversion_rate')
    ? `WITH (\n${totalVisitors(sc, shape.filters, source)}\n) AS total_visitors\n`
    : '';
  return `${withTotal}SELECT ${select.join(', ')}\nFROM ${from}`;
}

export interface BuiltStatsQuery {
  sql: ClickHouseQuery;
  plan: QueryPlan;
}

function scopeFor(ctx: StatsSqlContext): Scope {
  return new Scope(ctx.siteId, ctx.goals, ctx.timezone, ctx.period, scopeOptions(ctx));
}

/** One row holding each requested metric over the period. */
export function buildAggregate(
  q: { metrics: readonly Metric[]; filters: readonly Filter[] },
  ctx: StatsSqlContext,
): BuiltStatsQuery {
  const shape: StatsShape = { metrics: q.metrics, filters: q.filters, grouping: { kind: 'total' } };
  const plan = planStatsQuery(shape, ctx);
  const sc = scopeFor(ctx);
  return { sql: sc.p.query(statsSelect(sc, shape, plan.source, q.metrics)), plan };
}

export interface BuiltTimeseries extends BuiltStatsQuery {
  interval: Interval;
  /** Every bucket of the period; rows come back keyed by `bucket` and are laid onto these. */
  buckets: Bucket[];
}

/** Rows `{bucket, ...metrics}` for the buckets that have data; `fillTimeseries` adds the rest. */
export function buildTimeseries(
  q: { metrics: readonly Metric[]; filters: readonly Filter[]; interval?: Interval },
  ctx: StatsSqlContext,
): BuiltTimeseries {
  const interval = resolveInterval(ctx.period, q.interval);
  const shape: StatsShape = {
    metrics: q.metrics,
    filters: q.filters,
    grouping: { kind: 'bucket', interval },
  };
  const plan = planStatsQuery(shape, ctx);
  const sc = scopeFor(ctx);
  return {
    sql: sc.p.query(statsSelect(sc, shape, plan.source, q.metrics, 'bucket')),
    plan,
    interval,
    buckets: timeseriesBuckets(ctx.period, interval, ctx.timezone),
  };
}

/** `export?type=daily`: one row per local day with the main metrics. */
export function buildDailyExport(q: { filters: readonly Filter[] }, ctx: StatsSqlContext): BuiltTimeseries {
  return buildTimeseries({ metrics: DAILY_EXPORT_METRICS, filters: q.filters, interval: 'day' }, ctx);
}

export interface BuiltBreakdown extends BuiltStatsQuery {
  /**
   * `SELECT count() AS total_rows`: how many values there are, for `pagination`. Each row of `sql`
   * carries it too (`total_rows`), so this is only needed when the page comes back empty.
   */
  countSql: ClickHouseQuery;
  /** The metric columns of each row: the requested ones, plus the sort metric if it was not. */
  columns: Metric[];
}

/**
 * Rows `{value, ...metrics, total_rows}` of one page, sorted by the sort metric and then by value
 * so pages are stable. `total_rows` (a window count, taken before the page is cut) saves a second
 * query over the same data for the pagination.
 */
export function buildBreakdown(
  q: {
    property: Property;
    metrics: readonly Metric[];
    filters: readonly Filter[];
    sort: BreakdownSort;
    limit: number;
    pageNumber: number;
  },
  ctx: StatsSqlContext,
): BuiltBreakdown {
  const columns = [...new Set([...q.metrics, q.sort.metric])];
  const shape: StatsShape = {
    metrics: columns,
    filters: q.filters,
    grouping: { kind: 'property', property: q.property },
  };
  const plan = planStatsQuery(shape, ctx);
  const sc = scopeFor(ctx);
  const body = statsSelect(sc, shape, plan.source, columns, 'value');
  const direction = q.sort.direction === 'asc' ? 'ASC' : 'DESC';
  const limit = sc.p.bind(q.limit, 'UInt32');
  const offset = sc.p.bind((q.pageNumber - 1) * q.limit, 'UInt64');
  const page = [
    'SELECT *, count() OVER () AS total_rows',
    `FROM (\n${body}\n)`,
    `ORDER BY ${q.sort.metric} ${direction}, value ASC`,
    `LIMIT ${limit} OFFSET ${offset}`,
  ].join('\n');
  const count = new Scope(ctx.siteId, ctx.goals, ctx.timezone, ctx.period, scopeOptions(ctx));
  const countBody = statsSelect(count, shape, plan.source, columns, 'value');
  return {
    sql: sc.p.query(page),
    countSql: count.p.query(`SELECT count() AS total_rows FROM (\n${countBody}\n)`),
    plan,
    columns,
  };
}
