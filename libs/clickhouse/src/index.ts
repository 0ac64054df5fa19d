export { createClickHouse, clickhouseComponent, type ClickHouse, type ClickHouseConfig } from './client';
export { migrateClickHouse, CLICKHOUSE_MIGRATIONS_DIR, splitStatements } from './migrate';
