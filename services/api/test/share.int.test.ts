import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClickHouse } from '@tidemark/clickhouse';
import { createPool } from '@tidemark/db';
import { createLogger } from '@tidemark/logging';
import { createMetricsRegistry } from '@tidemark/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshClickHouse, freshPostgres, stackEnv, uniqueSuffix } from '../../../test/support/stack';
import { buildApp, type ApiApp } from '../src/app';
import { loadApiConfig } from '../src/config';
import { createRedis } from '../src/redis';
import { call, createApiKey, createSite, expectError, JWT_SECRET, signup } from './helpers';

/**
 * Public dashboards: the share token (`GET /api/v1/share/{site_key}/token`) reads one public site's
 * stats and nothing else, and the `/share/{site_key}` page exists only for public sites. The page
 * is served from a stand-in build, so this suite needs no Vite build.
 */

interface Harness {
  app: ApiApp;
  close(): Promise<void>;
}

async function startApi(dashboardDir: string): Promise<Harness> {
  const stack = stackEnv();
  const ch = await freshClickHouse();
  const config = loadApiConfig({
    ...stack,
    DATABASE_URL: await freshPostgres(),
    CLICKHOUSE_DATABASE: ch.database,
    REDIS_PREFIX: `${stack.REDIS_PREFIX}:${uniqueSuffix()}`,
    JWT_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RATE_LIMIT_PER_IP_PER_MINUTE: '1000000',
    RATE_LIMIT_PER_TOKEN_PER_HOUR: '1000000',
    PUBLIC_INGEST_URL: 'https://ingest.example.com/',
  });
  const pool = createPool(config.DATABASE_URL, { max: 5 });
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', () => {});
  await redis.connect().catch(() => {});
  const clickhouse = createClickHouse({ url: config.CLICKHOUSE_URL, database: config.CLICKHOUSE_DATABASE });
  const logger = createLogger({ name: 'api', level: config.LOG_LEVEL, format: 'json' });
  const registry = createMetricsRegistry('api');
  const app = buildApp({ pool, redis, clickhouse, config, logger, registry, dashboardDir });
  await app.ready();
  return {
    app,
    async close() {
      await app.close();
      redis.disconnect();
      await clickhouse.close();
      await pool.end();
    },
  };
}

let dir: string;
let api: Harness;
let owner: string;
let publicSite: { id: string; site_key: string };
let privateSite: { id: string; site_key: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tidemark-dashboard-stand-in-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>stand-in</title>');
  await writeFile(join(dir, 'assets', 'app-abc123.js'), 'console.log(1)');
  api = await startApi(dir);
  owner = (await signup(api.app)).token;
  publicSite = await createSite(api.app, owner, {
    public_stats: true,
    name: 'Open',
    timezone: 'Europe/Paris',
  });
  privateSite = await createSite(api.app, owner);
});

afterAll(async () => {
  await api?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const shareToken = async (siteKey: string) => {
  const res = await call(api.app, 'GET', `/api/v1/share/${siteKey}/token`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.token as string;
};

const realtime = (siteKey: string, token: string) =>
  call(api.app, 'GET', `/api/v1/stats/realtime?site_id=${siteKey}`, { token });

describe('share tokens', () => {
  it('are handed out, uncached, for public sites only, with nothing private beside them', async () => {
    const res = await call(api.app, 'GET', `/api/v1/share/${publicSite.site_key}/token`);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(Object.keys(res.body.data).sort()).toEqual(['expires_at', 'site', 'token']);
    expect(res.body.data.site).toEqual({
      site_key: publicSite.site_key,
      domain: expect.any(String),
      name: 'Open',
      timezone: 'Europe/Paris',
    });
    const ttl = Date.parse(res.body.data.expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(25 * 60_000);
    expect(ttl).toBeLessThanOrEqual(30 * 60_000);

    // A private site and an unknown key answer the same: the route tells no one which keys exist.
    expectError(await call(api.app, 'GET', `/api/v1/share/${privateSite.site_key}/token`), 404, 'not_found');
    expectError(await call(api.app, 'GET', '/api/v1/share/sk_doesnotexist000000/token'), 404, 'not_found');
    expectError(await call(api.app, 'GET', `/api/v1/share/${publicSite.id}/token`), 404, 'not_found');
  });

  it('read the stats of their site, and only of that site', async () => {
    const token = await shareToken(publicSite.site_key);
    const ok = await realtime(publicSite.site_key, token);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body).toMatchObject({ current_visitors: 0 });
    expect(ok.headers['x-ratelimit-limit']).toBeDefined();
    // The site is implied, by id or key, as for a site API key.
    expect((await realtime(publicSite.id, token)).status).toBe(200);
    expect((await call(api.app, 'GET', '/api/v1/stats/realtime', { token })).status).toBe(200);

    expectError(await realtime(privateSite.site_key, token), 403, 'forbidden');
  });

  it('open no admin route: no settings, keys, team or account', async () => {
    const token = await shareToken(publicSite.site_key);
    await createApiKey(api.app, owner, publicSite.site_key);
    for (const url of [
      '/api/v1/sites',
      `/api/v1/sites/${publicSite.site_key}`,
      `/api/v1/sites/${publicSite.site_key}/api-keys`,
      `/api/v1/sites/${publicSite.site_key}/team`,
      `/api/v1/sites/${publicSite.site_key}/goals`,
      `/api/v1/sites/${publicSite.site_key}/funnels`,
      `/api/v1/sites/${publicSite.site_key}/webhooks`,
      '/api/v1/account',
      '/api/v1/activity',
      '/api/v1/access-tokens',
    ]) {
      const res = await call(api.app, 'GET', url, { token });
      expect({ url, status: res.status, code: res.body?.error?.code }).toEqual({
        url,
        status: 403,
        code: 'insufficient_scope',
      });
    }
    const patch = await call(api.app, 'PATCH', `/api/v1/sites/${publicSite.site_key}`, {
      token,
      body: { public_stats: false },
    });
    expectError(patch, 403, 'insufficient_scope');
  });

  it('stop working as soon as the site is made private, and are refused as sessions', async () => {
    const site = await createSite(api.app, owner, { public_stats: true });
    const token = await shareToken(site.site_key);
    expect((await realtime(site.site_key, token)).status).toBe(200);

    const off = await call(api.app, 'PATCH', `/api/v1/sites/${site.site_key}`, {
      token: owner,
      body: { public_stats: false },
    });
    expect(off.status).toBe(200);
    const refused = await realtime(site.site_key, token);
    expectError(refused, 401, 'invalid_token');
    expect(refused.headers['www-authenticate']).toContain('error="invalid_token"');
    expectError(await call(api.app, 'GET', `/api/v1/share/${site.site_key}/token`), 404, 'not_found');

    // The owner's session is never mistaken for a share token, nor the reverse.
    expect((await realtime(site.site_key, owner)).status).toBe(200);
    const tampered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    expectError(await realtime(publicSite.site_key, tampered), 401, 'invalid_token');
  });
});

describe('the dashboard pages', () => {
  it('gives the app shell to its routes, never cached, with a strict CSP', async () => {
    for (const url of ['/', '/login', '/signup', '/sites', `/sites/${privateSite.site_key}/settings/goals`]) {
      const res = await api.app.inject({ method: 'GET', url });
      expect({ url, status: res.statusCode }).toEqual({ url, status: 200 });
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.body).toContain('stand-in');
    }
  });

  it('serves /share/{site_key} for a public site only, and 404s in the error shape otherwise', async () => {
    const open = await api.app.inject({ method: 'GET', url: `/share/${publicSite.site_key}` });
    expect(open.statusCode).toBe(200);
    expect(open.body).toContain('stand-in');
    // A public dashboard may be embedded in another site.
    expect(open.headers['content-security-policy']).not.toContain('frame-ancestors');

    for (const url of [`/share/${privateSite.site_key}`, '/share/sk_doesnotexist000000', '/share/anything']) {
      const res = await call(api.app, 'GET', url);
      expectError(res, 404, 'not_found');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
    }
  });

  it('serves hashed assets for a year, and leaves every other path to the API', async () => {
    const asset = await api.app.inject({ method: 'GET', url: '/assets/app-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
    expectError(await call(api.app, 'GET', '/assets/missing.js'), 404, 'not_found');
    expectError(await call(api.app, 'GET', '/nothing-here'), 404, 'not_found');
    expectError(await call(api.app, 'GET', '/api/v1/nothing-here'), 404, 'not_found');
  });

  it('tells the page where ingest is', async () => {
    const res = await call(api.app, 'GET', '/api/v1/config');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ ingest_url: 'https://ingest.example.com', signup_open: true });
  });

  it('is not served at all without a build', async () => {
    const bare = await startApi(join(dir, 'no-such-build'));
    try {
      expectError(await call(bare.app, 'GET', '/'), 404, 'not_found');
      expectError(await call(bare.app, 'GET', `/share/${publicSite.site_key}`), 404, 'not_found');
    } finally {
      await bare.close();
    }
  });
});
