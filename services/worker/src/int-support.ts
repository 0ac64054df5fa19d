import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createClickHouse } from '@tidemark/clickhouse';
import { createPool, type Pool } from '@tidemark/db';
import { createLogger } from '@tidemark/logging';
import type { Component } from '@tidemark/runtime';
import { createWebhookHttpClient, generateWebhookSecret, type WebhookHttpClient } from '@tidemark/webhooks';
import { Registry } from 'prom-client';
import { freePorts } from '../../../infra/local/src/engines/ports';
import { stackEnv, uniqueSuffix, waitFor } from '../../../test/support/stack';
import { loadConfig, type WorkerConfig } from './config';
import { startJobWorkers } from './worker';

/** Helpers of the worker's integration suites (`*.int.test.ts`), against the per-run stack. */

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Stack connection settings plus a Redis prefix of the suite's own, so queues never mix. */
export function workerEnv(
  databaseUrl: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const stack = stackEnv();
  return {
    REDIS_URL: stack.REDIS_URL,
    REDIS_PREFIX: `${stack.REDIS_PREFIX}-w${uniqueSuffix()}`,
    DATABASE_URL: databaseUrl,
    CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: stack.CLICKHOUSE_DATABASE,
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    WEBHOOK_RETRY_SCHEDULE: '200ms,200ms,200ms',
    WEBHOOK_TIMEOUT: '3s',
    WORKER_LOCK_DURATION: '2s',
    WORKER_STALLED_INTERVAL: '1s',
    ALERT_EVALUATION_INTERVAL: '1h',
    SHUTDOWN_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'error',
    LOG_FORMAT: 'json',
    ...overrides,
  };
}

export interface InProcessWorker {
  config: WorkerConfig;
  registry: Registry;
  stop(): Promise<void>;
}

/** The job workers in this process, with an HTTP client the test may shape (resolver, policy). */
export async function startInProcess(
  env: Record<string, string>,
  pool: Pool,
  http?: WebhookHttpClient,
): Promise<InProcessWorker> {
  const config = loadConfig(env);
  const registry = new Registry();
  const client =
    http ??
    createWebhookHttpClient({
      allowPrivateTargets: config.WEBHOOK_ALLOW_PRIVATE_TARGETS,
      timeoutMs: config.WEBHOOK_TIMEOUT,
    });
  const clickhouse = createClickHouse({ url: config.CLICKHOUSE_URL, database: config.CLICKHOUSE_DATABASE });
  const logger = createLogger({ name: 'worker-test', level: config.LOG_LEVEL, format: 'json' });
  const components: Component[] = await startJobWorkers({
    config,
    logger,
    registry,
    pool,
    clickhouse,
    summariesClickhouse: clickhouse,
    http: client,
  });
  return {
    config,
    registry,
    stop: async () => {
      for (const c of components) await c.onShutdown?.();
      // A client passed in belongs to the caller.
      if (!http) await client.close();
      await clickhouse.close();
    },
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  port: number;
  output: () => string;
  metrics: () => Promise<string>;
  /** SIGTERM and wait for the exit. */
  stop: () => Promise<void>;
  /** SIGKILL: no shutdown, locks left to expire. */
  kill: () => Promise<void>;
}

/** `node --import tsx services/worker/src/main.ts`, as operators run it; resolves once it serves /healthz. */
export async function spawnWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const [port] = await freePorts(1);
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/worker/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`worker exited (${child.exitCode}): ${output}`);
      const res = await fetch(`${base}/healthz`);
      return res.ok ? true : undefined;
    },
    { timeout: 30_000, message: 'the worker process to serve /healthz' },
  ).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}\n${output}`);
  });
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return {
    child,
    port: port!,
    output: () => output,
    metrics: async () => (await fetch(`${base}/metrics`)).text(),
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  };
}

/** Sum of a counter's samples whose labels include all of `labels`. */
export function counterValue(metricsText: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export interface ReceivedRequest {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export type ReceiverAnswer =
  number | { status: number; headers?: Record<string, string>; body?: string } | 'hold';

/**
 * A webhook receiver on 127.0.0.1 that records every request and answers as `answer` says
 * (`hold` keeps the request open without answering).
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  answer: (req: ReceivedRequest, index: number) => ReceiverAnswer = () => 200;
  url = '';
  private readonly sockets = new Set<Socket>();
  private readonly server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const received = { url: req.url ?? '', headers: req.headers, body, at: Date.now() };
      this.requests.push(received);
      const answer = this.answer(received, this.requests.length - 1);
      // A held request stays open until `close()` or its client goes away.
      if (answer === 'hold') return;
      const { status, headers, body: text } = typeof answer === 'number' ? { status: answer } : answer;
      res.writeHead(status, headers).end(text ?? '');
    });
  });

  private constructor() {
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  static async start(host = '127.0.0.1', path = '/hook'): Promise<Receiver> {
    const receiver = new Receiver();
    await new Promise<void>((resolve, reject) => {
      receiver.server.once('error', reject);
      receiver.server.listen(0, host, resolve);
    });
    receiver.url = `http://${host.includes(':') ? `[${host}]` : host}:${receiver.port}${path}`;
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** An account, a user and a site; returns the site id. */
export async function seedSite(pool: Pool): Promise<string> {
  const suffix = uniqueSuffix();
  const { rows } = await pool.query<{ id: string }>(
    `WITH a AS (INSERT INTO accounts (name) VALUES ('Test') RETURNING id)
     INSERT INTO sites (account_id, site_key, domain, name)
     SELECT a.id, $1, $2, 'Test site' FROM a
     RETURNING id`,
    [`sk_${suffix}${suffix}${suffix}`, `site-${suffix}.example.com`],
  );
  return rows[0]!.id;
}

export async function createSubscription(
  pool: Pool,
  siteId: string,
  url: string,
  events: string[] = ['pageview', 'event', 'goal.completed', 'alert.triggered'],
): Promise<{ id: string; secret: string }> {
  const secret = generateWebhookSecret();
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO webhook_subscriptions (site_id, url, events, secret) VALUES ($1, $2, $3, $4) RETURNING id`,
    [siteId, url, events, secret],
  );
  return { id: rows[0]!.id, secret };
}

export interface DeliveryState {
  status: string;
  attempts: number;
  last_error: string | null;
}

export async function deliveryState(pool: Pool, id: string): Promise<DeliveryState> {
  const { rows } = await pool.query<DeliveryState>(
    `SELECT status, attempts, last_error FROM webhook_deliveries WHERE id = $1`,
    [id],
  );
  return rows[0]!;
}

export async function attemptsOf(pool: Pool, id: string) {
  const { rows } = await pool.query<{
    attempt: number;
    status_code: number | null;
    latency_ms: number;
    response_excerpt: string | null;
    error: string | null;
    manual: boolean;
  }>(
    `SELECT attempt, status_code, latency_ms, response_excerpt, error, manual
       FROM webhook_delivery_attempts WHERE delivery_id = $1 ORDER BY attempt`,
    [id],
  );
  return rows;
}

export const newPool = (url: string) => createPool(url, { max: 5 });
