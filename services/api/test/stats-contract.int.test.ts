import { generateSiteTraffic } from '@tidemark/stats-query/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshClickHouse, freshPostgres } from '../../../test/support/stack';
import {
  call,
  createAccessToken,
  createApiKey,
  createGoal,
  createSite,
  expectError,
  signup,
  type TestUser,
  createFunnel,
  SIGNUP_FUNNEL,
} from './helpers';
import { loadEvents, qs, startStatsApi, type StatsTestApi } from './stats-fixtures';

/*
 * The Stats section of API.md as a caller sees it: the shape of every answer, its headers, and
 * every refusal (400, 401, 403, 404, 422, 503) with its code.
 */

let api: StatsTestApi;
let owner: TestUser;
let site: { id: string; site_key: string; domain: string };
let otherSite: { id: string };
let funnelId: string;

const NOW = Date.now();
const DAY = 86_400_000;

beforeAll(async () => {
  const ch = await freshClickHouse();
  api = await startStatsApi(
    { DATABASE_URL: await freshPostgres(), CLICKHOUSE_DATABASE: ch.database },
    { now: () => new Date(NOW) },
  );
  owner = await signup(api.app);
  site = await createSite(api.app, owner.token, { timezone: 'Asia/Kathmandu' });
  otherSite = await createSite(api.app, owner.token);
  await createGoal(api.app, owner.token, site.id, { name: 'Signup', event_name: 'signup' });
  funnelId = (await createFunnel(api.app, owner.token, site.id, SIGNUP_FUNNEL)).id;
  await loadEvents(
    api.clickhouse,
    generateSiteTraffic({
      siteId: site.id,
      from: new Date(NOW - 10 * DAY),
      to: new Date(NOW),
      seed: 5,
      visitsPerDay: 20,
      visitors: 100,
    }),
    2,
  );
});
afterAll(async () => api?.close());

const stats = (path: string, params: Record<string, string | number | undefined>, token = owner.token) =>
  call(api.app, 'GET', `/api/v1/stats/${path}?${qs(params)}`, { token });

const PERIOD = { from: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), to: expect.any(String), preset: '30d' };
const META = { timezone: 'Asia/Kathmandu', from_rollups: expect.any(Boolean) };

describe('answers', () => {
  it('aggregate: the period, the metrics, the meta; a comparison only when asked for', async () => {
    const plain = await stats('aggregate', { site_id: site.id, metrics: 'visitors,bounce_rate' });
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual({
      period: PERIOD,
      metrics: { visitors: expect.any(Number), bounce_rate: expect.any(Number) },
      meta: { timezone: 'Asia/Kathmandu', from_rollups: true },
    });
    expect(plain.body.metrics.visitors).toBeGreaterThan(0);
    const compared = await stats('aggregate', { site_id: site.id, period: '7d', compare: 'previous_period' });
    expect(compared.body.comparison).toEqual({
      period: { from: expect.any(String), to: expect.any(String), preset: '7d' },
      metrics: { visitors: expect.any(Number) },
      change: { visitors: expect.anything() },
    });
    // The data began ten days ago: the week before holds three days of it.
    expect(compared.body.comparison.metrics.visitors).toBeGreaterThan(0);
  });

  it('timeseries: every bucket of the period, with UTC instants', async () => {
    const res = await stats('timeseries', { site_id: site.id, period: '7d', metrics: 'visitors,pageviews' });
    expect(res.body).toMatchObject({ period: { preset: '7d' }, interval: 'day', meta: META });
    expect(res.body.results).toHaveLength(7);
    // Kathmandu is UTC+05:45: local midnight is 18:15 UTC the day before.
    for (const r of res.body.results)
      expect(r).toEqual({
        date: expect.stringMatching(/T18:15:00\.000Z$/),
        visitors: expect.any(Number),
        pageviews: expect.any(Number),
      });
    const hourly = await stats('timeseries', { site_id: site.id, period: '24h' });
    expect(hourly.body.interval).toBe('hour');
    expect(hourly.body.results).toHaveLength(24);
  });

  it('breakdown: values with their metrics and the pagination', async () => {
    const res = await stats('breakdown', {
      site_id: site.id,
      property: 'page',
      metrics: 'visitors,pageviews',
      limit: 2,
      page_number: 2,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      property: 'page',
      period: PERIOD,
      results: [
        { value: expect.any(String), visitors: expect.any(Number), pageviews: expect.any(Number) },
        { value: expect.any(String), visitors: expect.any(Number), pageviews: expect.any(Number) },
      ],
      pagination: { page_number: 2, limit: 2, total_rows: 9, total_pages: 5 },
      meta: META,
    });
  });

  it('realtime: current visitors, never cached', async () => {
    const res = await stats('realtime', { site_id: site.id, minutes: 600 });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ current_visitors: expect.any(Number), window_minutes: 60 });
    const refused = await stats('realtime', { site_id: site.id, minutes: 'ten' });
    expectError(refused, 400, 'invalid_request');
    expect(refused.headers['cache-control']).toBe('no-store');
    const anonymous = await call(api.app, 'GET', `/api/v1/stats/realtime?site_id=${site.id}`);
    expectError(anonymous, 401, 'missing_token');
    expect(anonymous.headers['cache-control']).toBe('no-store');
  });

  it('funnel: steps with visitors, conversion and drop-off; goal steps resolved', async () => {
    const res = await stats('funnel', { site_id: site.id, funnel_id: funnelId });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      funnel: { id: funnelId, name: 'To signup', window_minutes: 1440 },
      period: PERIOD,
      steps: [
        { name: 'Pricing', visitors: expect.any(Number), conversion_rate: 100, drop_off: 0 },
        {
          name: 'Signup',
          visitors: expect.any(Number),
          conversion_rate: expect.any(Number),
          drop_off: expect.any(Number),
        },
      ],
      conversion_rate: expect.any(Number),
      meta: { timezone: 'Asia/Kathmandu', from_rollups: false },
    });
    expect(res.body.steps[1].visitors).toBeGreaterThan(0);
  });

  it('heatmap: grid cells of clicks, or every scroll depth', async () => {
    const clicks = await stats('heatmap', { site_id: site.id, page: '/pricing' });
    expect(clicks.body).toMatchObject({ page: '/pricing', type: 'click', grid_size: 20, period: PERIOD });
    expect(clicks.body.results[0]).toEqual({
      x: expect.any(Number),
      y: expect.any(Number),
      clicks: expect.any(Number),
    });
    const scroll = await stats('heatmap', { site_id: site.id, page: '/pricing', type: 'scroll' });
    expect(scroll.body.results.map((r: { depth: number }) => r.depth)).toEqual([
      0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100,
    ]);
  });

  it('export: CSV and NDJSON, events and daily, as attachments', async () => {
    for (const [format, type, contentType] of [
      ['csv', 'daily', 'text/csv; charset=utf-8'],
      ['ndjson', 'daily', 'application/x-ndjson; charset=utf-8'],
      ['csv', 'events', 'text/csv; charset=utf-8'],
      ['ndjson', 'events', 'application/x-ndjson; charset=utf-8'],
    ]) {
      const res = await api.app.inject({
        method: 'GET',
        url: `/api/v1/stats/export?${qs({ site_id: site.id, format, type, period: '7d' })}`,
        headers: { authorization: `Bearer ${owner.token}` },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe(contentType);
      expect(res.headers['content-disposition']).toMatch(
        new RegExp(
          `^attachment; filename="${site.domain}-${type}-\\d{4}-\\d{2}-\\d{2}-\\d{4}-\\d{2}-\\d{2}\\.${format}"$`,
        ),
      );
      const lines = res.body.trim().split('\n');
      if (type === 'daily') expect(lines).toHaveLength(format === 'csv' ? 8 : 7);
      if (format === 'ndjson') expect(() => lines.map((l) => JSON.parse(l))).not.toThrow();
      if (format === 'csv' && type === 'events') {
        expect(lines[0]).toMatch(/^"timestamp","event_id","name",/);
        expect(lines[0]).not.toMatch(/visitor_id|session_id/);
      }
    }
    // A refusal is the usual JSON error, not a file.
    const refused = await stats('export', { site_id: site.id, type: 'events', period: '12m' });
    expectError(refused, 422, 'unsupported_query');
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(refused.headers['content-disposition']).toBeUndefined();
    const ndjson = await api.app.inject({
      method: 'GET',
      url: `/api/v1/stats/export?${qs({ site_id: site.id, format: 'ndjson', type: 'events', period: '7d', event: 'signup' })}`,
      headers: { authorization: `Bearer ${owner.token}` },
    });
    const first = JSON.parse(ndjson.body.split('\n')[0]!);
    expect(first).toMatchObject({ name: 'signup', props: { plan: expect.any(String) } });
    expect(first.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = await call(api.app, 'GET', '/docs/json');
    for (const path of ['aggregate', 'timeseries', 'breakdown', 'realtime', 'funnel', 'heatmap', 'export']) {
      expect(doc.body.paths[`/api/v1/stats/${path}`]?.get, path).toBeDefined();
    }
  });
});

describe('who may ask', () => {
  it('401 without a token, or with one only in the query string', async () => {
    for (const url of [
      `/api/v1/stats/aggregate?site_id=${site.id}`,
      `/api/v1/stats/aggregate?site_id=${site.id}&token=${owner.token}&access_token=${owner.token}`,
    ]) {
      const res = await call(api.app, 'GET', url);
      expectError(res, 401, 'missing_token');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="tidemark"');
    }
  });

  it('401 invalid_token for a token that is not one', async () => {
    const res = await stats(
      'aggregate',
      { site_id: site.id },
      'tmk_000000000000_notarealsecretnotarealsecretnotareal',
    );
    expectError(res, 401, 'invalid_token');
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  it('a site API key implies its site, and is forbidden on another one', async () => {
    const key = await createApiKey(api.app, owner.token, site.id);
    expect((await stats('aggregate', {}, key.token)).status).toBe(200);
    expect((await stats('aggregate', { site_id: site.site_key }, key.token)).status).toBe(200);
    expectError(await stats('aggregate', { site_id: otherSite.id }, key.token), 403, 'forbidden');
  });

  it('403 insufficient_scope for a token without stats:read or restricted to other sites', async () => {
    const noStats = await createAccessToken(api.app, owner.token, { permissions: ['sites:read'] });
    expectError(await stats('aggregate', { site_id: site.id }, noStats.token), 403, 'insufficient_scope');
    const elsewhere = await createAccessToken(api.app, owner.token, {
      permissions: ['stats:read'],
      site_ids: [otherSite.id],
    });
    expectError(await stats('aggregate', { site_id: site.id }, elsewhere.token), 403, 'insufficient_scope');
    expect((await stats('aggregate', { site_id: otherSite.id }, elsewhere.token)).status).toBe(200);
  });

  it('404 for a site the caller cannot see, and for funnels that are not there', async () => {
    const stranger = await signup(api.app);
    expectError(await stats('aggregate', { site_id: site.id }, stranger.token), 404, 'not_found');
    const theirs = await createSite(api.app, stranger.token);
    const theirFunnel = await createFunnel(api.app, stranger.token, theirs.id, {
      name: 'Theirs',
      steps: [
        { name: 'A', type: 'pageview', url: '/' },
        { name: 'B', type: 'pageview', url: '/pricing' },
      ],
    });
    expectError(await stats('funnel', { site_id: site.id, funnel_id: theirFunnel.id }), 404, 'not_found');
    expectError(await stats('funnel', { site_id: site.id, funnel_id: 'not-a-uuid' }), 404, 'not_found');
    const doomed = await createFunnel(api.app, owner.token, site.id, {
      name: 'Doomed',
      steps: [
        { name: 'A', type: 'pageview', url: '/' },
        { name: 'B', type: 'pageview', url: '/about' },
      ],
    });
    expect((await stats('funnel', { site_id: site.id, funnel_id: doomed.id })).status).toBe(200);
    const deleted = await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/funnels/${doomed.id}`, {
      token: owner.token,
    });
    expect(deleted.status).toBe(200);
    expectError(await stats('funnel', { site_id: site.id, funnel_id: doomed.id }), 404, 'not_found');
  });
});

describe('refusals of the question', () => {
  const cases: Array<[string, string, Record<string, string>, string[]]> = [
    ['from with a period other than custom', 'aggregate', { period: '7d', from: '2026-01-01' }, ['from']],
    ['to with a period other than custom', 'timeseries', { to: '2026-01-01' }, ['to']],
    ['custom without to', 'aggregate', { period: 'custom', from: '2026-01-01' }, ['to']],
    [
      'custom with from after to',
      'aggregate',
      { period: 'custom', from: '2026-01-02', to: '2026-01-01' },
      ['from'],
    ],
    [
      'a date that does not exist',
      'aggregate',
      { period: 'custom', from: '2026-02-30', to: '2026-03-01' },
      ['from'],
    ],
    ['an unknown period', 'aggregate', { period: '90d' }, ['period']],
    ['an unknown parameter', 'aggregate', { colour: 'blue' }, ['colour']],
    ['a parameter of another endpoint', 'aggregate', { funnel_id: 'x' }, ['funnel_id']],
    ['an unknown metric', 'aggregate', { metrics: 'visitors,hugs' }, ['metrics']],
    ['a metric of breakdowns only', 'aggregate', { metrics: 'entries' }, ['metrics']],
    [
      'a metric the property does not take',
      'breakdown',
      { property: 'exit_page', metrics: 'pageviews' },
      ['metrics', 'property'],
    ],
    ['a breakdown without property', 'breakdown', {}, ['property']],
    ['an unknown property', 'breakdown', { property: 'colour' }, ['property']],
    ['region without country', 'breakdown', { property: 'region' }, ['property', 'country']],
    [
      'city with a negated country',
      'breakdown',
      { property: 'city', country: '!US' },
      ['property', 'country'],
    ],
    [
      'a sort by a metric the property does not take',
      'breakdown',
      { property: 'page', sort: 'exits.desc' },
      ['sort'],
    ],
    ['a malformed sort', 'breakdown', { property: 'page', sort: 'visitors' }, ['sort']],
    ['a limit over 1000', 'breakdown', { property: 'page', limit: '1001' }, ['limit']],
    ['a limit of 0', 'breakdown', { property: 'page', limit: '0' }, ['limit']],
    ['page_number 0', 'breakdown', { property: 'page', page_number: '0' }, ['page_number']],
    ['a day interval with 24h', 'timeseries', { period: '24h', interval: 'day' }, ['interval']],
    ['an unknown interval', 'timeseries', { interval: 'minute' }, ['interval']],
    [
      'hourly over too many hours',
      'timeseries',
      { period: 'custom', from: '2024-01-01', to: '2026-01-01', interval: 'hour' },
      ['interval'],
    ],
    ['compare with period=all', 'aggregate', { period: 'all', compare: 'previous_period' }, ['compare']],
    ['an unknown comparison', 'aggregate', { compare: 'last_week' }, ['compare']],
    ['a country that is not a code', 'aggregate', { country: 'USA' }, ['country']],
    ['an empty filter value', 'aggregate', { device: 'Mobile|' }, ['device']],
    ['a goal the site does not have', 'aggregate', { goal: 'Purchase' }, ['goal']],
    ['a prop filter without a name', 'aggregate', { 'prop:': 'x' }, ['prop:']],
    ['a funnel without funnel_id', 'funnel', {}, ['funnel_id']],
    ['a heatmap without page', 'heatmap', {}, ['page']],
    ['a heatmap of an unknown type', 'heatmap', { page: '/', type: 'hover' }, ['type']],
    ['an unknown export format', 'export', { format: 'xlsx' }, ['format']],
    ['an unknown export type', 'export', { type: 'sessions' }, ['type']],
  ];

  it.each(cases)('400 invalid_request naming the parameter: %s', async (_name, path, params, named) => {
    const res = await stats(path, { site_id: site.id, ...params });
    const error = expectError(res, 400, 'invalid_request');
    for (const param of named) {
      expect(error.message + JSON.stringify(error.details ?? {})).toContain(param);
      expect(Object.keys(error.details ?? {})).toContain(param);
    }
  });

  it('400 naming a parameter given twice', async () => {
    const res = await call(
      api.app,
      'GET',
      `/api/v1/stats/aggregate?site_id=${site.id}&period=7d&period=30d`,
      {
        token: owner.token,
      },
    );
    expect(expectError(res, 400, 'invalid_request').message).toContain('period');
  });

  it('400 when a session token names no site', async () => {
    expectError(await stats('aggregate', {}), 400, 'invalid_request');
  });

  it('422 unsupported_query for raw events outside retention, naming the first date that works', async () => {
    for (const params of [
      { period: '12m', metrics: 'visits', page: '/pricing' },
      { period: 'custom', from: '2025-01-01', to: '2025-01-31', 'prop:plan': 'pro' },
      { period: 'ytd', property: 'page', metrics: 'bounce_rate' },
    ]) {
      const path = 'property' in params ? 'breakdown' : 'aggregate';
      const error = expectError(await stats(path, { site_id: site.id, ...params }), 422, 'unsupported_query');
      expect(error.message).toMatch(/raw events are kept 90 days.*Choose a period from \d{4}-\d{2}-\d{2} on/);
    }
    // The same questions within retention are answered from raw events...
    const recent = await stats('aggregate', { site_id: site.id, 'prop:plan': 'pro' });
    expect(recent.body.meta.from_rollups).toBe(false);
    // ...and the visits they match with raw events come from the sessions table.
    const visits = await stats('aggregate', { site_id: site.id, metrics: 'visits', page: '/pricing' });
    expect(visits.body.meta.from_rollups).toBe(true);
    // And old periods without them come from rollups.
    const old = await stats('aggregate', {
      site_id: site.id,
      period: '12m',
      metrics: 'visits',
      country: 'US',
    });
    expect(old.body.meta.from_rollups).toBe(true);
  });

  it('503 unavailable with Retry-After when ClickHouse cannot be reached', async () => {
    const down = await startStatsApi({
      DATABASE_URL: api.config.DATABASE_URL,
      CLICKHOUSE_DATABASE: api.config.CLICKHOUSE_DATABASE,
      CLICKHOUSE_URL: 'http://127.0.0.1:9',
    });
    try {
      for (const [path, params] of [
        ['aggregate', {}],
        ['export', { type: 'events' }],
        ['realtime', {}],
      ] as const) {
        const res = await call(
          down.app,
          'GET',
          `/api/v1/stats/${path}?${qs({ site_id: site.id, ...params })}`,
          {
            token: owner.token,
          },
        );
        expectError(res, 503, 'unavailable');
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      }
    } finally {
      await down.close();
    }
  });
});
