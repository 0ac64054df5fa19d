export { createPool, postgresComponent } from './pool';
export { migratePostgres, POSTGRES_MIGRATIONS_DIR } from './migrate';
export type { Pool, PoolClient } from 'pg';
