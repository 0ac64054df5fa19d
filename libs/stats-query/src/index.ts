export * from './calendar';
export * from './timezone';
export * from './periods';
export * from './filters';
export * from './metrics';
export * from './params';
export { type ClickHouseQuery, type ParamType, QueryParams } from './sql/query-params';
export { type GoalDefinition, type GoalMatch, goalMatch, resolveGoals } from './sql/goals';
export { likePattern } from './sql/conditions';
export { bucketKeyExpr } from './sql/buckets';
export { dayPieces, periodMayUseSummaries, RAW_SESSION_MARGIN_MS } from './sql/scope';
export {
  analyzeShape,
  assertRawRetention,
  chooseEventRollup,
  planStatsQuery,
  rawRetentionFloor,
  rollupCoverage,
  type DataSource,
  type EventRollup,
  type Grouping,
  type QueryPlan,
  type ShapeAnalysis,
  type StatsShape,
  type StatsSqlContext,
} from './sql/planner';
export {
  buildAggregate,
  buildBreakdown,
  buildDailyExport,
  buildTimeseries,
  type BuiltBreakdown,
  type BuiltStatsQuery,
  type BuiltTimeseries,
} from './sql/stats';
export {
  buildEventExport,
  buildFunnel,
  buildHeatmap,
  buildRealtime,
  decodeFunnel,
  decodeScroll,
  DEFAULT_FUNNEL_WINDOW_SECONDS,
  DEFAULT_HEATMAP_GRID,
  EXPORT_EVENT_COLUMNS,
  SCROLL_DEPTHS,
  type FunnelResult,
  type FunnelStep,
} from './sql/raw-endpoints';
export { fillTimeseries, metricChange, readMetrics, type MetricValues, type ResultRow } from './sql/results';
