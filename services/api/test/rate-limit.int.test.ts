import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningPipeline } from '../../../test/support/services';
import {
  call,
  createAccessToken,
  expectError,
  signup,
  startApi,
  twoApiProcesses,
  type TestApi,
} from './helpers';

describe('rate limits shared through Redis', () => {
  let pipeline: RunningPipeline;
  let a: string;
  let b: string;

  beforeAll(async () => {
    ({ pipeline, a, b } = await twoApiProcesses({
      RATE_LIMIT_PER_TOKEN_PER_HOUR: '5',
      RATE_LIMIT_PER_IP_PER_MINUTE: '1000',
      TRUST_PROXY: 'true',
    }));
  });
  afterAll(async () => pipeline?.stop());

  it('holds the per-token limit across both instances, with the limit headers', async () => {
    const user = await signup(a);
    const t = await createAccessToken(a, user.token, { permissions: ['sites:read'] });
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call(i % 2 ? b : a, 'GET', '/api/v1/sites', { token: t.token });
      expect(res.status).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe('5');
      const reset = Number(res.headers['x-ratelimit-reset']);
      expect(reset).toBeGreaterThan(Date.now() / 1000);
      expect(reset).toBeLessThanOrEqual(Date.now() / 1000 + 3600 + 1);
      remaining.push(String(res.headers['x-ratelimit-remaining']));
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);
    for (const app of [a, b]) {
      const res = await call(app, 'GET', '/api/v1/sites', { token: t.token });
      expectError(res, 429, 'rate_limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-ratelimit-remaining']).toBe('0');
    }
    // Another token of the same user has its own budget; the user's session is counted apart too.
    const t2 = await createAccessToken(a, user.token, { permissions: ['sites:read'] });
    expect((await call(b, 'GET', '/api/v1/sites', { token: t2.token })).status).toBe(200);
  });

  it('counts sessions per user, so logging in again gives no new budget', async () => {
    const user = await signup(a);
    for (let i = 0; i < 4; i++)
      expect((await call(a, 'GET', '/api/v1/sites', { token: user.token })).status).toBe(200);
    const login = await call(b, 'POST', '/api/v1/auth/login', {
      body: { email: user.email, password: user.password },
    });
    const fresh = login.body.data.token;
    expect((await call(b, 'GET', '/api/v1/sites', { token: fresh })).status).toBe(200);
    expectError(await call(a, 'GET', '/api/v1/sites', { token: fresh }), 429, 'rate_limited');
  });
});

describe('per-IP limit', () => {
  let pipeline: RunningPipeline;
  let a: string;
  let b: string;

  beforeAll(async () => {
    ({ pipeline, a, b } = await twoApiProcesses({ RATE_LIMIT_PER_IP_PER_MINUTE: '4', TRUST_PROXY: 'true' }));
  });
  afterAll(async () => pipeline?.stop());

  it('limits each client IP across instances, before authentication and on login too', async () => {
    const ip = { 'x-forwarded-for': '198.51.100.7' };
    const results: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await call(i % 2 ? b : a, 'POST', '/api/v1/auth/login', {
        body: { email: 'nobody@example.com', password: 'guessing passwords' },
        headers: ip,
      });
      results.push(res.status);
    }
    expect(results).toEqual([401, 401, 401, 401]);
    const blocked = await call(a, 'GET', '/api/v1/sites', {
      token: 'tma_0123456789ab_' + 'x'.repeat(40),
      headers: ip,
    });
    expectError(blocked, 429, 'rate_limited');
    expect(blocked.headers['retry-after']).toBeDefined();
    expect(blocked.headers['cache-control']).toBe('no-store');
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(60);
    // Another client is not affected.
    const other = await call(b, 'POST', '/api/v1/auth/login', {
      body: { email: 'nobody@example.com', password: 'guessing passwords' },
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    expectError(other, 401, 'invalid_credentials');
  });

  it('holds a known token to its own budget, counting its IP only where the token is new', async () => {
    const user = await signup(a);
    const t = await createAccessToken(a, user.token, { permissions: ['sites:read'] });
    const ip = { 'x-forwarded-for': '198.51.100.23' };
    // The first request on each process counts against the IP (the token is new there), then the
    // token is known: eight requests pass where the IP alone has four a minute.
    for (let i = 0; i < 8; i++) {
      const res = await call(i % 2 ? b : a, 'GET', '/api/v1/sites', { token: t.token, headers: ip });
      expect(res.status, `request ${i + 1}`).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe('600');
    }
    const guess = () =>
      call(b, 'POST', '/api/v1/auth/login', {
        body: { email: 'nobody@example.com', password: 'guessing passwords' },
        headers: ip,
      });
    expectError(await guess(), 401, 'invalid_credentials');
    expectError(await guess(), 401, 'invalid_credentials');
    expectError(await guess(), 429, 'rate_limited');
    // A token the processes have not seen from that address is held at the IP's limit too.
    const other = await createAccessToken(a, user.token, { permissions: ['sites:read'] });
    expectError(
      await call(a, 'GET', '/api/v1/sites', { token: other.token, headers: ip }),
      429,
      'rate_limited',
    );
  });
});

describe('without Redis', () => {
  let down: TestApi;
  beforeAll(async () => {
    down = await startApi({ REDIS_URL: 'redis://127.0.0.1:9', RATE_LIMIT_PER_TOKEN_PER_HOUR: '1' });
  });
  afterAll(async () => down?.close());

  it('fails open, counts it, and says so in /readyz as a non-critical dependency', async () => {
    const user = await signup(down.app);
    for (let i = 0; i < 3; i++) {
      const res = await call(down.app, 'GET', '/api/v1/sites', { token: user.token });
      expect(res.status).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    }
    expect(await down.registry.getSingleMetricAsString('tidemark_api_rate_limit_store_errors_total')).toMatch(
      /tidemark_api_rate_limit_store_errors_total\{[^}]*\} [1-9]/,
    );
    const ready = await call(down.app, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.redis).toMatchObject({ ok: false, critical: false });
    // Creating a site still works; the rules invalidation is logged and counted instead.
    const site = await call(down.app, 'POST', '/api/v1/sites', {
      token: user.token,
      body: { domain: 'no-redis.example.com', name: 'x' },
    });
    expect(site.status).toBe(201);
    expect(
      await down.registry.getSingleMetricAsString('tidemark_api_site_rules_invalidation_failures_total'),
    ).toMatch(/} [1-9]|total [1-9]/);
  });
});
