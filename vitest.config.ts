import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure logic and self-contained hosts, beside the code as `*.test.ts`) and
 * `integration` (`*.int.test.ts` and `test/**`), which share one per-run stack of real engines
 * started by the global setup: real Kafka, the ClickHouse engine host, Redis and PostgreSQL.
 */
export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['libs/**/*.test.ts', 'services/**/*.test.ts', 'infra/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/*.int.test.ts'],
          pool: 'forks',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['**/*.int.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['./test/support/global-setup.ts'],
          pool: 'forks',
          // Suites share one broker and one engine host on a 2-core machine: run files one by one.
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
