export { createClickHouse, clickhouseComponent, type ClickHouse, type ClickHouseConfig } from './client';
export {
  migrateClickHouse,
  CLICKHOUSE_MIGRATION_LOCK_ID,
  CLICKHOUSE_MIGRATIONS_DIR,
  splitStatements,
  type MigrationLock,
} from './migrate';
export {
  EVENTS_INGEST_TABLE,
  EVENTS_TABLE,
  EVENT_COLUMNS,
  insertEventRows,
  insertEvents,
  unstorableReason,
  writeEventRow,
  type DedupInsertOptions,
  type EventInsertTable,
  type EventRow,
} from './tables/events.table';
export { RowBinaryWriter, decimalUnits } from './tables/row-binary';
export {
  SESSIONS_TABLE,
  SESSION_FIRST_VALUES,
  SESSION_VISITOR_VALUES,
  mergedSessionsSql,
  type MergedSession,
  type SessionFirstValue,
  type SessionVisitorValue,
} from './tables/sessions.table';
export {
  ROLLUP_DIMENSIONS,
  ROLLUP_DIMENSIONS_TABLE,
  ROLLUP_LOCATIONS_TABLE,
  ROLLUP_SITE_TABLE,
  type RollupDimension,
} from './tables/rollups.table';
export {
  DAY_TOTAL_DIMENSIONS,
  DIMENSION_DAYS_TABLE,
  refreshDimensionDays,
  type DayTotalDimension,
} from './dimension-days';
export {
  DIMENSIONS_SUMMARY_TABLE,
  SUMMARIZED_VISIT_ATTRIBUTES,
  VISIT_ATTRIBUTES_SUMMARY_TABLE,
  SESSIONS_SUMMARY_TABLE,
  SITE_SUMMARY_TABLE,
  SUMMARY_REFRESH_LOCK_ID,
  loadSummaryCatalog,
  monthPartition,
  refreshClosedMonthSummaries,
  type SummaryBuild,
  type SummaryCatalog,
  type SummaryKind,
} from './summaries';
