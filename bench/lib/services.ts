import { freePort } from '../../infra/local/src/engines/ports';
import { startProcess } from './load';

/** A service process of the benchmark, started as operators start it (`node --import tsx .../main.ts`). */
export type ServiceProcess = Awaited<ReturnType<typeof startProcess>> & {
  /** Its ops server (`/metrics`, `/readyz`). */
  opsUrl?: string;
};

/** What production runs with: JSON logs at info, production mode, a free port. */
const PRODUCTION = { LOG_LEVEL: 'info', LOG_FORMAT: 'json', NODE_ENV: 'production', PORT: '0' };
const LISTENING = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/;

/** Services whose ops server is not the port they log: give them a known one. */
async function withOpsPort(
  entry: string,
  env: Record<string, string>,
  extra: Record<string, string>,
  ready: RegExp,
): Promise<ServiceProcess> {
  const port = await freePort();
  const started = await startProcess(
    entry,
    { ...env, ...PRODUCTION, ...extra, PORT: String(port) },
    ready,
    90_000,
  );
  return { ...started, opsUrl: `http://127.0.0.1:${port}` };
}

export const startConsumer = (env: Record<string, string>, extra: Record<string, string> = {}) =>
  withOpsPort('services/consumer/src/main.ts', env, extra, /"msg":"consumer started"/);

/** Resolves with the process and its origin (`http://127.0.0.1:PORT`) in `match[1]`. */
export const startIngest = (env: Record<string, string>, extra: Record<string, string> = {}) =>
  startProcess('services/ingest/src/main.ts', { ...env, ...PRODUCTION, ...extra }, LISTENING, 90_000);

/** Resolves with the process and its origin (`http://127.0.0.1:PORT`) in `match[1]`. */
export const startApi = (env: Record<string, string>, extra: Record<string, string> = {}) =>
  startProcess('services/api/src/main.ts', { ...env, ...PRODUCTION, ...extra }, LISTENING, 90_000);

export const startWorker = (env: Record<string, string>, extra: Record<string, string> = {}) =>
  withOpsPort('services/worker/src/main.ts', env, extra, /"msg":"worker started"/);

/**
 * Sum of a metric's samples in a Prometheus text scrape whose labels include all of `labels`
 * (`name_sum`/`name_count` for histograms).
 */
export async function scrapeMetric(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Stops every process that was started, in reverse order, whatever failed before. */
export async function stopAll(processes: Array<ServiceProcess | undefined>): Promise<void> {
  for (const p of [...processes].reverse()) await p?.stop().catch(() => {});
}
