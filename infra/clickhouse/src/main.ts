/**
 * Runs the local ClickHouse engine host (development and test only; see host.ts) until SIGTERM or
 * SIGINT. Prints one line, `clickhouse host listening on <url>`, on stdout once it accepts
 * queries; logs go to stderr so that line is easy to wait for.
 */
import { resolve } from 'node:path';
import { pino } from 'pino';
import { z } from 'zod';
import { startClickHouseHost, type ClickHouseHost } from './host';

const Env = z.object({
  CLICKHOUSE_HOST_PORT: z.coerce.number().int().min(0).max(65535).default(8123),
  CLICKHOUSE_HOST_BIND: z.string().min(1).default('127.0.0.1'),
  CLICKHOUSE_HOST_DATA_DIR: z.string().min(1).default('.tidemark/clickhouse'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** In-flight queries get this long after a signal before the process gives up on them. */
const SHUTDOWN_DEADLINE_MS = 30_000;

async function main(): Promise<void> {
  const parsed = Env.safeParse(process.env);
  if (!parsed.success) {
    console.error(`invalid configuration:\n${z.prettifyError(parsed.error)}`);
    process.exit(1);
  }
  const env = parsed.data;
  const logger = pino({ name: 'clickhouse-host', level: env.LOG_LEVEL }, pino.destination(2));

  // The engine reads its server time zone from TZ when it starts; the official server image runs
  // in UTC, so the local host does too, whatever the developer's machine is set to.
  process.env.TZ = 'UTC';

  let host: ClickHouseHost;
  try {
    host = await startClickHouseHost({
      port: env.CLICKHOUSE_HOST_PORT,
      host: env.CLICKHOUSE_HOST_BIND,
      dataDir: resolve(env.CLICKHOUSE_HOST_DATA_DIR),
      logger,
    });
  } catch (err) {
    logger.fatal({ err }, 'clickhouse host failed to start');
    logger.flush();
    process.exit(1);
  }
  console.log(`clickhouse host listening on ${host.url}`);

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'in-flight queries did not finish in time');
      logger.flush();
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    try {
      await host.close();
    } catch (err) {
      logger.error({ err }, 'error while closing');
      logger.flush();
      process.exit(1);
    }
    logger.flush();
    process.exit(0);
  };
  process.on('SIGTERM', (signal) => void stop(signal));
  process.on('SIGINT', (signal) => void stop(signal));
}

await main();
