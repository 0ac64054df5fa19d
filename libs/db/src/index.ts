export { createPool, postgresComponent } from './pool';
export { migratePostgres, POSTGRES_MIGRATIONS_DIR } from './migrate';
export { withAdvisoryLock } from './lock';
export type { Pool, PoolClient } from 'pg';
