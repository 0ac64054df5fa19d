import {
  DAY_TOTAL_DIMENSIONS,
  SUMMARIZED_VISIT_ATTRIBUTES,
  type DayTotalDimension,
  type RollupDimension,
} from '@tidemark/clickhouse';
import { DAY_MS } from '../calendar';
import type { Filter } from '../filters';
import type { Property } from '../metrics';
import { bucketKeyExpr } from './buckets';
import {
  completedGoals,
  eventFilterCondition,
  goalCondition,
  matchValues,
  rollupValueCondition,
  sessionFilterCondition,
} from './conditions';
import { goalMatch } from './goals';
import type { DataSource, EventRollup, Grouping, ShapeAnalysis } from './planner';
import {
  EVENT_COLUMNS,
  isSessionAttribute,
  isVisitorValue,
  LOCATION_COLUMNS,
  mergedSessionAttribute,
  rawSessionAttribute,
  SESSION_COLUMN,
  sessionAlias,
  TABLES,
  type SessionAttribute,
} from './schema';
import { sessionIdFloor, sessionIdWindow, type Scope } from './scope';
import {
  joinRanges,
  MIN_SUMMARIZED_PLAIN_DAYS,
  monthsTouched,
  planAttributeReads,
  daysIn,
  planDayReads,
  planSiteReads,
  planVisitReads,
  uncovered,
  type AttributeReads,
  type SummaryRead,
} from './summary-plan';

/*
 * The two halves every stats answer is made of, each a subquery with a `g` group column (absent
 * for totals):
 *
 *   event part  e_visitors, e_pageviews, e_events      over the period's events (or event rollups)
 *   visit part  v_visits, v_bounces, v_duration_ms,    over the visits that start in the period
 *               v_session_pageviews, v_visitors,       (the `sessions` table, or visits rebuilt
 *               v_pageviews, v_events                   from raw events)
 *
 * `stats.ts` joins them on `g` and turns the columns into metrics.
 */

const and = (conditions: readonly string[]) => conditions.join('\n    AND ');

function select(columns: readonly string[], from: string, where: readonly string[], group?: string): string {
  const cols = group === undefined ? columns : [`${group} AS g`, ...columns];
  return [
    `SELECT ${cols.join(', ')}`,
    `FROM ${from}`,
    ...(where.length ? [`WHERE ${and(where)}`] : []),
    ...(group === undefined ? [] : ['GROUP BY g']),
  ].join('\n  ');
}

/** Sub-selects of the same columns as one relation to read from. */
const unionAll = (parts: readonly string[]) => `(\n  ${parts.join('\n  UNION ALL\n  ')}\n)`;

/** What an event row contributes to a breakdown by an event-level or visitor-level property. */
function rawEventValue(sc: Scope, property: Property): { expr: string; where?: string } {
  switch (property) {
    case 'page':
      return { expr: 'pathname', where: "name = 'pageview'" };
    case 'exit_link':
      return { expr: 'link_url', where: "link_url != ''" };
    case 'goal':
      return {
        expr: sc.goals.length
          ? `arrayJoin(${completedGoals(sc.p, sc.goals, (g) => goalCondition(sc.p, g))})`
          : 'arrayJoin(emptyArrayString())',
      };
    case 'hostname':
    case 'event':
    case 'country':
    case 'region':
    case 'city':
    case 'device':
    case 'browser':
    case 'os':
      return { expr: `toString(${EVENT_COLUMNS[property]})` };
    default:
      throw new Error(`${property} is a property of visits, not of events`);
  }
}

/*
 * A breakdown's visitors of a value are the sum of each UTC day's: ingest keys visitor ids by a
 * salt that rotates at UTC midnight (libs/enrichment/src/visitor-id.ts), so no id is on two UTC
 * days and the sum is the number of distinct ids. Day sums let whole days be read as counts
 * (`rollup_dimensions_per_day`) instead of merging every visitor's hash, and every source of a
 * breakdown (raw events, 15-minute rows, day rows) counts the same way, so they agree.
 *
 * Visitors are `uniq`, on raw events as in the rollups' `uniqState`: ClickHouse's adaptive
 * sampling counter, deterministic (the merged states of any split of the rows equal the state of
 * all of them), so both sources give the same number for the same rows. It is exact up to 65536
 * distinct visitors per answer but for 32-bit hash collisions (about n²/2³³: under 1% of 10000)
 * and within about 1.6% beyond. `uniqExact` would be exact on raw events only, and then raw and
 * rollup answers (and a period answered partly from each) would disagree.
 */
const RAW_EVENT_AGGREGATES: Record<EventColumn, string> = {
  e_visitors: 'uniq(visitor_id)',
  e_pageviews: "countIf(name = 'pageview')",
  e_events: 'count()',
};

const ROLLUP_EVENT_AGGREGATES: Record<EventColumn, string> = {
  e_visitors: 'uniqMerge(visitors)',
  e_pageviews: 'sum(pageviews)',
  e_events: 'sum(events)',
};

export type EventColumn = 'e_visitors' | 'e_pageviews' | 'e_events';
export type VisitColumn =
  | 'v_visits'
  | 'v_bounces'
  | 'v_duration_ms'
  | 'v_session_pageviews'
  | 'v_visitors'
  | 'v_pageviews'
  | 'v_events';

/*
 * A part computes only the columns its caller names: ClickHouse does not drop an unused aggregate
 * of a subquery, and a `uniq` nobody reads costs as much as one somebody does (a third of a
 * 12-month aggregate's time).
 */
const aggregates = <C extends string>(columns: readonly C[], exprs: Record<C, string>) =>
  columns.map((c) => `${exprs[c]} AS ${c}`);

/** Event metrics from `events`: the period's events that pass the event- and visitor-level filters. */
export function rawEventPart(
  sc: Scope,
  filters: readonly Filter[],
  grouping: Grouping,
  columns: readonly EventColumn[],
): string {
  const where = [
    `site_id = ${sc.site}`,
    `timestamp >= ${sc.start}`,
    `timestamp < ${sc.end}`,
    ...filters.map((f) => eventFilterCondition(sc.p, f, sc.goals)),
  ];
  if (grouping.kind === 'property') {
    const value = rawEventValue(sc, grouping.property);
    if (value.where) where.push(value.where);
    return byDay(columns, RAW_EVENT_AGGREGATES, TABLES.events, where, value.expr, 'toDate(timestamp)');
  }
  const group =
    grouping.kind === 'bucket' ? bucketKeyExpr(grouping.interval, 'timestamp', sc.offset) : undefined;
  return select(aggregates(columns, RAW_EVENT_AGGREGATES), TABLES.events, where, group);
}

/**
 * Event metrics of `from` by `group`, visitors summed over UTC days (see the note on visitors
 * above): each (value, day) aggregated, then each value's days added up.
 */
function byDay<C extends EventColumn>(
  columns: readonly C[],
  exprs: Record<C, string>,
  from: string,
  where: readonly string[],
  group: string,
  day: string,
): string {
  const perDay = [
    `SELECT ${[`${group} AS g`, `${day} AS d`, ...aggregates(columns, exprs)].join(', ')}`,
    `FROM ${from}`,
    ...(where.length ? [`WHERE ${and(where)}`] : []),
    'GROUP BY g, d',
  ].join('\n    ');
  return [
    `SELECT ${['g', ...columns.map((c) => `sum(${c}) AS ${c}`)].join(', ')}`,
    `FROM (\n    ${perDay}\n  )`,
    'GROUP BY g',
  ].join('\n  ');
}

/** Event metrics from the rollup `choice` (see `planner.chooseEventRollup`). */
export function rollupEventPart(
  sc: Scope,
  filters: readonly Filter[],
  grouping: Grouping,
  choice: EventRollup,
  columns: readonly EventColumn[],
): string {
  if (choice.table === 'site' && grouping.kind === 'total' && sc.summarizable) {
    const reads = planSiteReads(sc.monthPieces, sc.summaries!);
    if (reads.length > 0) return siteTotals(sc, columns, reads);
  }
  // What selects the rows besides the site and the period.
  const conditions: string[] = [];
  let table: string;
  let value: string | undefined;
  switch (choice.table) {
    case 'site':
      table = TABLES.siteRollup;
      break;
    case 'dimension':
      table = TABLES.dimensionRollup;
      conditions.push(`dimension = '${choice.dimension}'`);
      conditions.push(...filters.map((f) => rollupValueCondition(sc.p, f, 'value', sc.goals)));
      value = 'value';
      break;
    case 'goals': {
      table = TABLES.dimensionRollup;
      conditions.push("dimension IN ('event', 'page')");
      const completes = completedGoals(sc.p, sc.goals, (goal) => {
        const match = goalMatch(goal);
        return match.kind === 'event'
          ? `(dimension = 'event' AND value = ${sc.p.bind(match.eventName, 'String')})`
          : `(dimension = 'page' AND ${matchValues(sc.p, 'value', 'page', [match.path])})`;
      });
      value = sc.goals.length ? `arrayJoin(${completes})` : 'arrayJoin(emptyArrayString())';
      break;
    }
    case 'locations':
      table = TABLES.locationRollup;
      conditions.push(
        ...filters.map((f) =>
          rollupValueCondition(sc.p, f, LOCATION_COLUMNS[f.key as keyof typeof LOCATION_COLUMNS], sc.goals),
        ),
      );
      break;
  }
  let group: string | undefined;
  if (grouping.kind === 'bucket') group = bucketKeyExpr(grouping.interval, 'bucket', sc.offset);
  if (grouping.kind === 'property') {
    const property = grouping.property;
    group =
      choice.table === 'locations'
        ? `toString(${LOCATION_COLUMNS[property as keyof typeof LOCATION_COLUMNS]})`
        : value;
  }
  if (grouping.kind !== 'property') {
    return select(aggregates(columns, ROLLUP_EVENT_AGGREGATES), table, bounded(sc, conditions), group);
  }
  if (choice.table === 'dimension' && sc.summarizable && hasDayTotals(choice.dimension)) {
    const dimension = choice.dimension;
    if (daysIn(sc.dayPieces) >= MIN_DAY_TOTAL_DAYS[dimension]) {
      return dimensionDayTotals(sc, dimension, columns, conditions);
    }
  }
  if (
    choice.table === 'locations' &&
    grouping.property === 'country' &&
    conditions.length === 0 &&
    sc.summarizable
  ) {
    const reads = planDayReads('country_month', sc.dayPieces, sc.summaries!);
    if (reads.length > 0) return countryDays(sc, columns, reads);
  }
  return byDay(columns, ROLLUP_EVENT_AGGREGATES, table, bounded(sc, conditions), group!, 'toDate(bucket)');
}

/** Rollup rows of the site and the period that meet `conditions`. */
const bounded = (sc: Scope, conditions: readonly string[]) => [
  `site_id = ${sc.site}`,
  `bucket >= ${sc.start}`,
  `bucket < ${sc.end}`,
  ...conditions,
];

const hasDayTotals = (dimension: RollupDimension): dimension is DayTotalDimension =>
  dimension in DAY_TOTAL_DIMENSIONS;

/**
 * Whole UTC days from which a breakdown reads day totals. Checking and reading them costs ~25 ms
 * on the engine host whatever the period (three tables, a few milliseconds each), and they save
 * what merging the period's visitor states costs. Measured on the stats benchmark's site: pages,
 * with ~12 k rows of states a day, 31 ms with them and 34 without over 7 days, 36 and 64 over 30;
 * browsers, with 400, 31 and 26 over 30 days, 34 and 32 over 60, 35 and 47 over 90.
 */
const MIN_DAY_TOTAL_DAYS: Record<DayTotalDimension, number> = {
  page: 7,
  hostname: 60,
  event: 60,
  device: 60,
  browser: 60,
  os: 60,
};

/**
 * A breakdown of one dimension (`conditions`: on `dimension` and `value`) with the whole UTC days
 * whose day totals are complete read from `rollup_dimensions_per_day`, a row per value and day
 * with visitors counted, and the rest from the 15-minute rows a day at a time. A day's totals are
 * complete when their `events` add up to the day's events (or pageviews) in the site rollup
 * (`DAY_TOTAL_DIMENSIONS`), 96 rows a day where the dimension's own 15-minute rows are one per
 * value and bucket (reading those cost ~12 ms for 30 days of pages). Both rollups are filled by the
 * same inserts and only grow, so a day that gained events since its build (a late event) is read
 * from the 15-minute rows until the worker rebuilds it, and a build that raced an insert's views
 * disagrees until both hold it.
 */
function dimensionDayTotals(
  sc: Scope,
  dimension: DayTotalDimension,
  columns: readonly EventColumn[],
  conditions: readonly string[],
): string {
  const pieces = sc.dayPieces;
  const from = pieces[0]!.from;
  const to = pieces.at(-1)!.to;
  const daySums = (table: string, sum: string, day: string, where: readonly string[]) =>
    `SELECT ${day} AS day, sum(${sum}) AS events FROM ${table}\n      WHERE ${and([
      `site_id = ${sc.site}`,
      ...where,
    ])}\n      GROUP BY day`;
  const ofDimension = `dimension = '${dimension}'`;
  const inPeriod = [`bucket >= ${sc.p.instant(from)}`, `bucket < ${sc.p.instant(to)}`];
  const source = daySums(TABLES.siteRollup, DAY_TOTAL_DIMENSIONS[dimension], 'toDate(bucket)', inPeriod);
  const agreeing = `(SELECT groupArray(day) FROM (
      ${daySums(TABLES.dimensionDays, 'events', 'day', [ofDimension, `day >= ${sc.p.day(from)}`, `day < ${sc.p.day(to)}`])}
    ) AS built
    INNER JOIN (
      ${source}
    ) AS source USING (day, events))`;
  const days = `${agreeing} AS agreeing`;
  // The 15-minute rows to read: the period's ends, and whole days whose totals disagree, as ranges
  // and a set of days the primary key can skip the other days' rows by.
  const dayCount = sc.p.bind(Math.round((to.getTime() - from.getTime()) / DAY_MS), 'UInt32');
  const disagreeing = `arrayFilter(d -> NOT has(agreeing, d), arrayMap(i -> ${sc.p.day(from)} + i, range(${dayCount})))`;
  const outside = [
    `bucket < ${sc.p.instant(from)}`,
    `bucket >= ${sc.p.instant(to)}`,
    `toDate(bucket) IN (SELECT arrayJoin(${disagreeing}))`,
  ].join(' OR ');
  const cells = ['value', 'day AS d', 'visitors', 'pageviews', 'events'];
  const totals = select(cells, TABLES.dimensionDays, [
    `site_id = ${sc.site}`,
    `day >= ${sc.p.day(from)}`,
    `day < ${sc.p.day(to)}`,
    // A set, not `has`: `has` searches the array for each row (~40 ms over 12 months of pages).
    'day IN (SELECT arrayJoin(agreeing))',
    ...conditions,
  ]);
  const rest = [
    'SELECT value, toDate(bucket) AS d, uniqMerge(visitors) AS visitors, sum(pageviews) AS pageviews, sum(events) AS events',
    `FROM ${TABLES.dimensionRollup}`,
    `WHERE ${and([...bounded(sc, conditions), `(${outside})`])}`,
    'GROUP BY value, d',
  ].join('\n  ');
  const sums: Record<EventColumn, string> = {
    e_visitors: 'sum(visitors)',
    e_pageviews: 'sum(pageviews)',
    e_events: 'sum(events)',
  };
  return [`WITH ${days}`, select(aggregates(columns, sums), unionAll([totals, rest]), [], 'value')].join(
    '\n',
  );
}

/** The site's 15-minute rollup rows of the period that none of `reads` stands for. */
function bucketsOutside(sc: Scope, reads: readonly SummaryRead[]): string[] {
  return [
    `site_id = ${sc.site}`,
    `bucket >= ${sc.start}`,
    `bucket < ${sc.end}`,
    ...joinRanges(reads).map(
      (r) => `NOT (bucket >= ${sc.p.instant(r.from)} AND bucket < ${sc.p.instant(r.to)})`,
    ),
  ];
}

/** The day rows of `reads`' builds inside their stretches. */
const summaryDays = (sc: Scope, reads: readonly SummaryRead[]) =>
  `(${reads
    .map(
      (r) =>
        `(build_id = ${sc.p.bind(r.buildId, 'UUID')} AND day >= ${sc.p.day(r.from)} AND day < ${sc.p.day(r.to)})`,
    )
    .join(' OR ')})`;

/**
 * An unfiltered breakdown's event metrics by country with `reads` (see `planDayReads`) standing
 * for their stretches: a state per country and day (`country_month` rows, dimension `country` of
 * `rollup_dimensions_summary`) there, the location rollup's rows for the rest. Those hold a state
 * per country, region and city every 15 minutes, ~150 k for 30 days of the benchmark's site: the
 * event half of a 30-day country breakdown took 27 ms with day rows, 35 without.
 */
function countryDays(sc: Scope, columns: readonly EventColumn[], reads: readonly SummaryRead[]): string {
  const cells = ['visitors', 'pageviews', 'events'];
  const from = [
    select(
      ['toString(country) AS value', 'toDate(bucket) AS d', ...cells],
      TABLES.locationRollup,
      bucketsOutside(sc, reads),
    ),
    select(['value', 'day AS d', ...cells], TABLES.dimensionsSummary, [
      `site_id = ${sc.site}`,
      "dimension = 'country'",
      summaryDays(sc, reads),
    ]),
  ];
  return byDay(columns, ROLLUP_EVENT_AGGREGATES, unionAll(from), [], 'value', 'd');
}

/**
 * Site totals over the period with `reads` (see `planSiteReads`) standing for their stretches: one
 * row of `rollup_site_summary` each, and 15-minute rows for the rest. Merging a month's visitor
 * state costs ~65,536 hashes at most, against every visitor of every 15-minute bucket (12 months:
 * 2.3 million); `uniq` merges to the same state whatever the grouping of its inputs, so the answer
 * is the one the 15-minute rows give.
 */
function siteTotals(sc: Scope, columns: readonly EventColumn[], reads: readonly SummaryRead[]): string {
  const fine = bucketsOutside(sc, reads);
  const builds = sc.p.bind(
    reads.map((r) => r.buildId),
    'Array(UUID)',
  );
  const days = sc.p.bind(
    reads.map((r) => r.fromDay),
    'Array(UInt8)',
  );
  const coarse = [
    `site_id = ${sc.site}`,
    `build_id IN ${builds}`,
    `from_day = transform(build_id, ${builds}, ${days}, toUInt8(0))`,
  ];
  const from = [
    select(['visitors', 'pageviews', 'events'], TABLES.siteRollup, fine),
    select(['visitors', 'pageviews', 'events'], TABLES.siteSummary, coarse),
  ];
  return select(aggregates(columns, ROLLUP_EVENT_AGGREGATES), unionAll(from), []);
}

/** Visit attributes a shape filters or groups on. */
function attributesOf(a: ShapeAnalysis): SessionAttribute[] {
  const names = [...a.sessionFilters, ...a.visitorFilters].map((f) => f.key as string);
  if (a.property !== undefined) names.push(a.property);
  return [...new Set(names)].filter(isSessionAttribute);
}

function sessionConditions(sc: Scope, a: ShapeAnalysis): string[] {
  return [...a.sessionFilters, ...a.visitorFilters].map((f) => sessionFilterCondition(sc.p, f, sessionAlias));
}

/**
 * The visits of a grouped query that pass the session- and visitor-level filters, applied around
 * the GROUP BY rather than in its HAVING: ClickHouse's rewrite of an OR of LIKEs fails on
 * aggregates (LOGICAL_ERROR "... is not resolved as ordinary function"), and a filter such as
 * `entry_page=/blog/*|/` is exactly that OR.
 */
export function filteredVisits(grouped: string, conditions: readonly string[]): string {
  if (!conditions.length) return grouped;
  return ['SELECT *', `FROM (\n  ${grouped}\n)`, `WHERE ${and(conditions)}`].join('\n  ');
}

/**
 * One row per visit starting in the period, from `sessions_v3` read with FINAL: the engine merges
 * each visit's partial rows as it reads them, and reads ranges of the sorting key that only one
 * part holds without merging. The table is partitioned by the month in the session id, so a past
 * month is one part read as is and only the current month's parts are merged (12 months of 6,250
 * visits a day: 61 ms, against 134 ms for one unpartitioned table of two merged parts and 256 ms
 * for a GROUP BY session_id). Conditions on merged values (the period, filters) sit outside the
 * FINAL read, which applies them after merging: a partial row's `start` is only an upper bound of
 * its visit's start. `excludePartitions` (an `Array(String)` placeholder) names partitions whose
 * visits are read elsewhere.
 */
function rollupSessions(
  sc: Scope,
  a: ShapeAnalysis,
  excludePartitions?: string,
  summarized?: SummarizedVisits,
): string {
  const columns = [
    ...(summarized ? ['_partition_id AS s_partition'] : []),
    'session_id',
    'visitor_id AS s_visitor',
    'start AS s_start',
    '`end` AS s_end',
    'pageviews AS s_pageviews',
    'events AS s_events',
    ...attributesOf(a).map((attr) => `${mergedSessionAttribute(attr)} AS ${sessionAlias(attr)}`),
  ];
  const [firstId, lastId] = sc.sessionIds;
  const merged = [
    `SELECT ${columns.join(', ')}`,
    `FROM ${TABLES.sessions} FINAL`,
    `WHERE ${and([
      `site_id = ${sc.site}`,
      `session_id BETWEEN ${firstId} AND ${lastId}`,
      ...(excludePartitions ? [`_partition_id NOT IN ${excludePartitions}`] : []),
      ...(summarized ? [summarized.ids] : []),
    ])}`,
  ].join('\n  ');
  return filteredVisits(merged, [
    `s_start >= ${sc.start}`,
    `s_start < ${sc.end}`,
    ...(summarized ? [`NOT (s_partition IN ${summarized.partitions} AND ${summarized.startCovered})`] : []),
    ...sessionConditions(sc, a),
  ]);
}

/**
 * The visits that day rows of `sessions_attributes_summary` stand for, as conditions: those of a
 * built partition (`partitions`, an `Array(String)` placeholder) that start in a covered day. `ids`
 * keeps only the session ids of visits that may start outside the covered days (see
 * SESSION_ID_MARGIN_MS) or are in a partition without a build, so covered visits are not even read.
 */
interface SummarizedVisits {
  partitions: string;
  startCovered: string;
  ids: string;
}

/** The same rows rebuilt from raw events, with the `sessions` view's definitions. */
function rawSessions(sc: Scope, a: ShapeAnalysis): string {
  const columns = [
    'session_id',
    'any(visitor_id) AS s_visitor',
    'min(timestamp) AS s_start',
    'max(timestamp) AS s_end',
    "countIf(name = 'pageview') AS s_pageviews",
    'count() AS s_events',
    ...attributesOf(a).map((attr) => `${rawSessionAttribute(attr)} AS ${sessionAlias(attr)}`),
  ];
  const having = [`s_start >= ${sc.start}`, `s_start < ${sc.end}`];
  const grouped = [
    `SELECT ${columns.join(', ')}`,
    `FROM ${TABLES.events}`,
    `WHERE ${and([`site_id = ${sc.site}`, `timestamp >= ${sc.startMargin}`, `timestamp < ${sc.endMargin}`])}`,
    'GROUP BY session_id',
    `HAVING ${and(having)}`,
  ].join('\n  ');
  return filteredVisits(grouped, sessionConditions(sc, a));
}

/**
 * Per visit (and per value of an event-level property), the visit's events that pass the
 * event-level filters: joined to the visits, this keeps the visits holding a matching event and
 * counts only matching pageviews and events.
 */
function rawVisitEvents(sc: Scope, a: ShapeAnalysis): string {
  const where = [
    `site_id = ${sc.site}`,
    `timestamp >= ${sc.startMargin}`,
    `timestamp < ${sc.endMargin}`,
    ...a.eventFilters.map((f) => eventFilterCondition(sc.p, f, sc.goals)),
  ];
  const columns = ['session_id'];
  const groups = ['session_id'];
  if (a.property !== undefined && !isSessionAttribute(a.property)) {
    const value = rawEventValue(sc, a.property);
    columns.push(`${value.expr} AS m_value`);
    groups.push('m_value');
    if (value.where) where.push(value.where);
  }
  columns.push("countIf(name = 'pageview') AS m_pageviews", 'count() AS m_events');
  return [
    `SELECT ${columns.join(', ')}`,
    `FROM ${TABLES.events}`,
    `WHERE ${and(where)}`,
    `GROUP BY ${groups.join(', ')}`,
  ].join('\n  ');
}

const PER_VISIT: Record<VisitColumn, string> = {
  v_visits: 'count()',
  v_bounces: 'countIf(s_pageviews = 1)',
  v_duration_ms: "sum(dateDiff('millisecond', s_start, s_end))",
  v_session_pageviews: 'sum(s_pageviews)',
  v_visitors: 'uniq(s_visitor)',
  v_pageviews: 'sum(s_pageviews)',
  v_events: 'sum(s_events)',
};

/** The same sums from `sessions_summary`, typed as `PER_VISIT`'s so the two can be added. */
const SUMMED_VISITS: Record<Exclude<VisitColumn, 'v_visitors'>, string> = {
  v_visits: 'sum(visits)',
  v_bounces: 'sum(bounces)',
  v_duration_ms: 'toInt64(sum(duration_ms))',
  v_session_pageviews: 'sum(pageviews)',
  v_pageviews: 'sum(pageviews)',
  v_events: 'sum(events)',
};

const isSummed = (c: VisitColumn): c is keyof typeof SUMMED_VISITS => c in SUMMED_VISITS;

const FAR_FUTURE = "toDateTime64('2106-01-01 00:00:00', 3, 'UTC')";
const FAR_PAST = "toDateTime64(0, 3, 'UTC')";

/**
 * Visit totals of an unfiltered period where valid builds of `sessions_summary` cover some of the
 * months it reads: those months as their 15-minute sums, the stretches of `reads` (see
 * `planVisitReads`) as one month row each instead, and only the other months visit by visit. A year
 * is then a dozen rows, a few hundred 15-minute rows and the current month's visits, against 2.3
 * million visits. `undefined` when no build applies.
 */
function summarizedVisitTotals(
  sc: Scope,
  a: ShapeAnalysis,
  columns: readonly VisitColumn[],
): string | undefined {
  const [start, end] = sc.bounds;
  // The partitions the per-visit read touches: its session ids reach a day beyond the period.
  const ids = sessionIdWindow(start, end);
  const touched = monthsTouched(ids.from, ids.to);
  const monthBuilds = new Map<string, string>();
  for (const month of touched) {
    const buildId = sc.summaries!.build('sessions_month', month);
    if (buildId) monthBuilds.set(month, buildId);
  }
  if (monthBuilds.size === 0) return undefined;
  const reads = planVisitReads(sc.monthPieces, sc.summaries!);
  const sums = aggregates(columns.filter(isSummed), SUMMED_VISITS);
  const parts: string[] = [];
  if (monthBuilds.size < touched.length) {
    const summarized = sc.p.bind([...monthBuilds.keys()], 'Array(String)');
    parts.push(
      select(aggregates(columns, PER_VISIT), `(\n  ${rollupSessions(sc, a, summarized)}\n) AS s`, []),
    );
  }
  const fifteenMinutes = [`from_day = 0`, `bucket >= ${sc.start}`, `bucket < ${sc.end}`];
  let rows = `(${fifteenMinutes.join(' AND ')})`;
  if (reads.length > 0) {
    // A month row holds its month's visits from its day on; their 15-minute rows are skipped.
    const builds = sc.p.bind(
      reads.map((r) => r.buildId),
      'Array(UUID)',
    );
    const froms = sc.p.instants(reads.map((r) => r.from));
    const tos = sc.p.instants(reads.map((r) => r.to));
    const days = sc.p.bind(
      reads.map((r) => r.fromDay),
      'Array(UInt8)',
    );
    fifteenMinutes.push(
      `NOT (bucket >= transform(build_id, ${builds}, ${froms}, ${FAR_FUTURE})
            AND bucket < transform(build_id, ${builds}, ${tos}, ${FAR_PAST}))`,
    );
    rows = `((${fifteenMinutes.join(' AND ')})
         OR (from_day > 0 AND from_day = transform(build_id, ${builds}, ${days}, toUInt8(0))))`;
  }
  parts.push(
    select(sums, TABLES.sessionsSummary, [
      `site_id = ${sc.site}`,
      `build_id IN ${sc.p.bind([...monthBuilds.values()], 'Array(UUID)')}`,
      rows,
    ]),
  );
  return select(
    columns.map((c) => `sum(${c}) AS ${c}`),
    unionAll(parts),
    [],
  );
}

/** Per-visit aggregates that can be added to the day rows' sums: the visitors as a state. */
const PARTIAL_VISITS: Record<VisitColumn, string> = { ...PER_VISIT, v_visitors: 'uniqState(s_visitor)' };

/** The same from `sessions_attributes_summary`. */
const SUMMED_ATTRIBUTE_VISITS: Record<VisitColumn, string> = {
  ...SUMMED_VISITS,
  v_visitors: 'uniqMergeState(visitors)',
};

/**
 * Visits of an unfiltered breakdown by a visit attribute where valid `visit_attributes_month` builds
 * cover a week or more of its days (see `planAttributeReads`): the covered visits as one row per
 * value and day, the others visit by visit. A 12-month breakdown by channel then groups the visits
 * of a few days instead of 2.3 million. Sums add up and `uniq` states merge to the same state
 * whatever the grouping of their inputs, so the answer is the one the visits give.
 */
function summarizedVisitGroups(
  sc: Scope,
  a: ShapeAnalysis,
  attr: SessionAttribute,
  columns: readonly VisitColumn[],
  reads: AttributeReads,
): string {
  const during = (column: string, type: 'instant' | 'day') =>
    `(${reads.covered
      .map((r) => {
        const [from, to] =
          type === 'day' ? [sc.p.day(r.from), sc.p.day(r.to)] : [sc.p.instant(r.from), sc.p.instant(r.to)];
        return `(${column} >= ${from} AND ${column} < ${to})`;
      })
      .join(' OR ')})`;
  // The session ids to read, as ranges the primary key can skip by: those that may start outside
  // the covered days, and the whole months of partitions without a build.
  const [start, end] = sc.bounds;
  const period = sessionIdWindow(start, end);
  const wanted = joinRanges([
    ...uncovered(start, end, reads.covered).map((gap) => sessionIdWindow(gap.from, gap.to)),
    ...reads.unbuilt.map((m) => ({
      from: new Date(Math.max(m.from.getTime(), period.from.getTime())),
      to: new Date(Math.min(m.to.getTime(), period.to.getTime())),
    })),
  ]);
  const ids = wanted.map((r) => {
    const first = sc.p.bind(sessionIdFloor(r.from.getTime()).toString(), 'UInt64');
    const last = sc.p.bind((sessionIdFloor(r.to.getTime()) - 1n).toString(), 'UInt64');
    return `session_id BETWEEN ${first} AND ${last}`;
  });
  const summarized: SummarizedVisits = {
    partitions: sc.p.bind([...reads.builds.keys()], 'Array(String)'),
    startCovered: during('s_start', 'instant'),
    ids: ids.length ? `(${ids.join(' OR ')})` : '0',
  };
  const fine = select(
    aggregates(columns, PARTIAL_VISITS),
    `(\n  ${rollupSessions(sc, a, undefined, summarized)}\n) AS s`,
    [],
    sessionAlias(attr),
  );
  const coarse = select(
    aggregates(columns, SUMMED_ATTRIBUTE_VISITS),
    TABLES.visitAttributesSummary,
    [
      `site_id = ${sc.site}`,
      `attribute = ${sc.p.bind(SESSION_COLUMN[attr], 'String')}`,
      `build_id IN ${sc.p.bind([...reads.builds.values()], 'Array(UUID)')}`,
      during('day', 'day'),
    ],
    'value',
  );
  return select(
    columns.map((c) => (c === 'v_visitors' ? `uniqMerge(${c}) AS ${c}` : `sum(${c}) AS ${c}`)),
    unionAll([fine, coarse]),
    [],
    'g',
  );
}

/** Visit metrics (and, for a visit-scoped query, every metric) over the period's visits. */
export function visitPart(
  sc: Scope,
  a: ShapeAnalysis,
  grouping: Grouping,
  source: DataSource,
  columns: readonly VisitColumn[],
): string {
  const unfiltered = a.sessionFilters.length === 0 && a.visitorFilters.length === 0;
  if (source === 'rollups' && grouping.kind === 'total' && unfiltered && sc.summarizable) {
    const summarized = columns.every(isSummed) ? summarizedVisitTotals(sc, a, columns) : undefined;
    if (summarized !== undefined) return summarized;
  }
  const property = grouping.kind === 'property' ? grouping.property : undefined;
  if (
    source === 'rollups' &&
    property !== undefined &&
    isSessionAttribute(property) &&
    (SUMMARIZED_VISIT_ATTRIBUTES as readonly string[]).includes(SESSION_COLUMN[property]) &&
    unfiltered &&
    a.eventFilters.length === 0 &&
    !a.needsVisitEvents &&
    sc.summarizable
  ) {
    const [start, end] = sc.bounds;
    const reads = isVisitorValue(property)
      ? planAttributeReads(start, end, sc.summaries!, MIN_SUMMARIZED_PLAIN_DAYS)
      : planAttributeReads(start, end, sc.summaries!);
    if (reads) return summarizedVisitGroups(sc, a, property, columns, reads);
  }
  let from: string;
  const perVisitEvents = source === 'raw' && a.needsVisitEvents;
  if (source === 'rollups') from = `(\n  ${rollupSessions(sc, a)}\n) AS s`;
  else if (perVisitEvents) {
    // The visits from `sessions_v3`, which holds them merged with the same definitions, unless raw
    // events are forced: rebuilding them means grouping every event of the period and the days
    // around it (7 days filtered by page: 74 ms, against 38 ms).
    const visits = sc.rebuildVisits ? rawSessions(sc, a) : rollupSessions(sc, a);
    from = `(\n  ${rawVisitEvents(sc, a)}\n) AS m\nINNER JOIN (\n  ${visits}\n) AS s USING session_id`;
  } else from = `(\n  ${rawSessions(sc, a)}\n) AS s`;
  const [pageviews, events] = perVisitEvents ? ['m_pageviews', 'm_events'] : ['s_pageviews', 's_events'];
  let group: string | undefined;
  if (grouping.kind === 'bucket') group = bucketKeyExpr(grouping.interval, 's_start', sc.offset);
  if (grouping.kind === 'property') {
    group = isSessionAttribute(grouping.property) ? sessionAlias(grouping.property) : 'm_value';
  }
  const exprs: Record<VisitColumn, string> = {
    ...PER_VISIT,
    v_pageviews: `sum(${pageviews})`,
    v_events: `sum(${events})`,
  };
  return select(aggregates(columns, exprs), from, [], group);
}
