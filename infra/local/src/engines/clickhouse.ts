import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { RunningEngine } from './engine';
import { launch, waitFor } from './process';

const HOST_MAIN = fileURLToPath(new URL('../../../clickhouse/src/main.ts', import.meta.url));

/** `url` answers ClickHouse's `/ping`: a real server or our engine host. */
export async function pingClickHouse(url: string): Promise<void> {
  const res = await fetch(new URL('/ping', url), { signal: AbortSignal.timeout(1_000) });
  if (!res.ok) throw new Error(`${url}/ping answered ${res.status}`);
}

/**
 * Uses the ClickHouse server at `url` when one answers, otherwise starts the embedded-engine host
 * (infra/clickhouse) as its own process on `port`, so it can be stopped and restarted like a server.
 */
export async function ensureClickHouse(opts: {
  url: string;
  dataDir: string;
  port: number;
  reuse?: boolean;
}): Promise<RunningEngine> {
  if (opts.reuse !== false) {
    try {
      await pingClickHouse(opts.url);
      return { name: 'clickhouse', url: opts.url, stop: async () => {} };
    } catch {
      // nothing there: start our own
    }
  }
  return startClickHouseHost(opts);
}

export async function startClickHouseHost(opts: { dataDir: string; port: number }): Promise<RunningEngine> {
  const url = `http://127.0.0.1:${opts.port}`;
  const proc = await launch({
    command: process.execPath,
    args: ['--import', 'tsx', HOST_MAIN],
    env: {
      ...process.env,
      CLICKHOUSE_HOST_PORT: String(opts.port),
      CLICKHOUSE_HOST_DATA_DIR: join(opts.dataDir, 'data'),
      LOG_LEVEL: process.env.CLICKHOUSE_HOST_LOG_LEVEL ?? 'warn',
    },
    logFile: join(opts.dataDir, 'clickhouse-host.log'),
    pidFile: join(opts.dataDir, 'clickhouse-host.pid'),
    what: `ClickHouse engine host on ${url}`,
    ready: (abortIf) =>
      waitFor(() => pingClickHouse(url), { timeoutMs: 60_000, what: `${url}/ping`, abortIf }),
  });
  return { name: 'clickhouse', url, pid: proc.pid, stop: proc.stop };
}
