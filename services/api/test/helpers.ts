import { createClickHouse, type ClickHouse } from '@tidemark/clickhouse';
import { createPool, type Pool } from '@tidemark/db';
import { createLogger } from '@tidemark/logging';
import { createMetricsRegistry } from '@tidemark/runtime';
import type { Registry } from 'prom-client';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { buildApp, type ApiApp } from '../src/app';
import { loadApiConfig, type ApiConfig } from '../src/config';
import { createRedis } from '../src/redis';
import { callApi } from '../../../test/support/api';
import { startPipeline } from '../../../test/support/services';
import { freshPostgres, stackEnv, uniqueSuffix, waitFor } from '../../../test/support/stack';

export interface TestApi {
  app: ApiApp;
  pool: Pool;
  redis: Redis;
  clickhouse: ClickHouse;
  config: ApiConfig;
  registry: Registry;
  close(): Promise<void>;
}

export const JWT_SECRET = 'test-jwt-secret-that-is-long-enough-0123456789';

/**
 * An api app on the run's stack with real dependencies and, unless `env` names one, a freshly
 * migrated database of its own. Limits are high unless a test sets them, so suites can make many
 * requests from the one inject address. `extend` may register more routes before the app starts.
 */
export async function startApi(
  env: Record<string, string> = {},
  extend?: (app: ApiApp) => unknown,
): Promise<TestApi> {
  const stack = stackEnv();
  const config = loadApiConfig({
    ...stack,
    DATABASE_URL: env.DATABASE_URL ?? (await freshPostgres()),
    REDIS_PREFIX: `${stack.REDIS_PREFIX}:${uniqueSuffix()}`,
    JWT_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RATE_LIMIT_PER_IP_PER_MINUTE: '1000000',
    RATE_LIMIT_PER_TOKEN_PER_HOUR: '1000000',
    ...env,
  });
  const pool = createPool(config.DATABASE_URL, { max: 5 });
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', () => {});
  await redis.connect().catch(() => {});
  const clickhouse = createClickHouse({ url: config.CLICKHOUSE_URL, database: config.CLICKHOUSE_DATABASE });
  const registry = createMetricsRegistry('api');
  const logger = createLogger({ name: 'api', level: config.LOG_LEVEL, format: 'json' });
  const app = buildApp({ pool, redis, clickhouse, config, logger, registry });
  extend?.(app);
  await app.ready();
  return {
    app,
    pool,
    redis,
    clickhouse,
    config,
    registry,
    async close() {
      await app.close();
      redis.disconnect();
      await clickhouse.close();
      await pool.end();
    },
  };
}

/** Two api processes on one database and one Redis prefix, as two replicas behind a balancer. */
export async function twoApiProcesses(env: Record<string, string> = {}) {
  const pipeline = await startPipeline(['api', 'api'], env);
  const [a, b] = pipeline.instances.map((i) => i.url) as [string, string];
  return { pipeline, a, b };
}

// Tests read JSON answers field by field; typing every answer would only restate the schemas.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

/** An app answering through `inject`, or the base URL of a running api process. */
export type Target = ApiApp | string;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function call<T = any>(
  app: Target,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  if (typeof app === 'string') return callApi(app, url, { method, ...opts });
  const headers = {
    ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...opts.headers,
  };
  const payload =
    opts.body === undefined
      ? undefined
      : typeof opts.body === 'string'
        ? opts.body
        : JSON.stringify(opts.body);
  const res = await app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}) });
  const text = res.body;
  return {
    status: res.statusCode,
    body: text ? JSON.parse(text) : undefined,
    headers: res.headers as Answer<T>['headers'],
  };
}

/** Asserts the contract's error shape and code, and returns the error. */
export function expectError(answer: Answer, status: number, code: string) {
  expect({ status: answer.status, code: answer.body?.error?.code }, JSON.stringify(answer.body)).toEqual({
    status,
    code,
  });
  expect(typeof answer.body.error.message).toBe('string');
  return answer.body.error as { code: string; message: string; details?: Record<string, string[]> };
}

export interface TestUser {
  token: string;
  user: { id: string; email: string; name: string | null };
  account: { id: string; name: string };
  email: string;
  password: string;
}

export async function signup(app: Target, name?: string): Promise<TestUser> {
  const email = `user-${uniqueSuffix()}@example.com`;
  const password = 'a long enough password';
  const res = await call(app, 'POST', '/api/v1/auth/signup', {
    body: { email, password, ...(name ? { name } : {}) },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { ...res.body.data, email, password };
}

export async function createSite(app: Target, token: string, body: Record<string, unknown> = {}) {
  const res = await call(app, 'POST', '/api/v1/sites', {
    token,
    body: { domain: `site-${uniqueSuffix()}.example.com`, name: 'A site', ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; site_key: string; domain: string; name: string };
}

export async function createAccessToken(
  app: Target,
  token: string,
  body: { permissions: string[]; site_ids?: string[]; expires_at?: string; name?: string },
) {
  const res = await call(app, 'POST', '/api/v1/access-tokens', {
    token,
    body: { name: 'test token', ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; token: string };
}

export async function createApiKey(
  app: Target,
  token: string,
  site: string,
  body: Record<string, unknown> = {},
) {
  const res = await call(app, 'POST', `/api/v1/sites/${site}/api-keys`, {
    token,
    body: { name: 'reporting', ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; token: string };
}

export async function invite(
  app: Target,
  ownerToken: string,
  site: string,
  email: string,
  role: 'member' | 'viewer',
) {
  const res = await call(app, 'POST', `/api/v1/sites/${site}/team`, {
    token: ownerToken,
    body: { email, role },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

/** Row counts of every metadata table: "nothing was written" is "no count moved". */
export async function tableCounts(pool: Pool): Promise<Record<string, number>> {
  const tables = [
    'accounts',
    'users',
    'sites',
    'site_members',
    'site_invites',
    'site_api_keys',
    'account_tokens',
    'activity_log',
    'goals',
    'funnels',
    'alerts',
    'alert_history',
    'webhook_subscriptions',
    'webhook_deliveries',
    'webhook_delivery_attempts',
  ];
  const counts: Record<string, number> = {};
  for (const t of tables) {
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`);
    counts[t] = rows[0]!.n;
  }
  return counts;
}

export async function createGoal(app: Target, token: string, site: string, body: Record<string, unknown>) {
  const res = await call(app, 'POST', `/api/v1/sites/${site}/goals`, { token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; name: string };
}

/** A two-step funnel through the `Signup` goal (which the test must have created). */
export const SIGNUP_FUNNEL = {
  name: 'To signup',
  steps: [
    { name: 'Pricing', type: 'pageview', url: '/pricing' },
    { name: 'Signup', type: 'goal', goal_name: 'Signup' },
  ],
};

export async function createFunnel(
  app: Target,
  token: string,
  site: string,
  body: { name: string; steps: Array<Record<string, unknown>>; window_minutes?: number },
) {
  const res = await call(app, 'POST', `/api/v1/sites/${site}/funnels`, { token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; name: string };
}

export async function createWebhook(
  app: Target,
  token: string,
  site: string,
  body: Record<string, unknown> = {},
) {
  const res = await call(app, 'POST', `/api/v1/sites/${site}/webhooks`, {
    token,
    body: { url: 'https://hooks.example.com/tidemark', events: ['goal.completed'], ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; secret: string; url: string };
}

export const goalAlertBody = (goalName: string) => ({
  name: `On ${goalName}`,
  trigger: { goal_name: goalName },
  template: { subject: '{{goal_name}} on {{site_domain}}', message: 'It happened.' },
});

/** What the api publishes on a Redis channel from now on (its cache invalidations). */
export async function listenToChannel(redisUrl: string, channel: string) {
  const subscriber = new Redis(redisUrl);
  const messages: string[] = [];
  subscriber.on('message', (_channel: string, message: string) => messages.push(message));
  await subscriber.subscribe(channel);
  return {
    messages,
    heard: (message: string, what: string) =>
      waitFor(() => (messages.includes(message) ? true : undefined), { message: what }),
    close: () => subscriber.disconnect(),
  };
}
