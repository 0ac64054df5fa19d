import { randomUUID } from 'node:crypto';
import { siteConfigChannel } from '@tidemark/queues';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshClickHouse } from '../../../test/support/stack';
import {
  call,
  createGoal,
  createSite,
  expectError,
  goalAlertBody,
  invite,
  signup,
  startApi,
  tableCounts,
  type TestApi,
  type TestUser,
  createFunnel,
  listenToChannel,
} from './helpers';

let api: TestApi;
let owner: TestUser;
let invalidations: Awaited<ReturnType<typeof listenToChannel>>;

beforeAll(async () => {
  const ch = await freshClickHouse();
  api = await startApi({ CLICKHOUSE_DATABASE: ch.database });
  owner = await signup(api.app);
  invalidations = await listenToChannel(api.config.REDIS_URL, siteConfigChannel(api.config.REDIS_PREFIX));
});
afterAll(async () => {
  invalidations?.close();
  await api?.close();
});

const GOAL_SHAPE = {
  id: expect.stringMatching(/^[0-9a-f-]{36}$/),
  site_id: expect.any(String),
  name: expect.any(String),
  event_name: null,
  page_path: null,
  events_last_30d: expect.any(Number),
  created_at: expect.any(String),
};

const DAY = 86_400_000;

async function insertEvents(
  siteId: string,
  events: Array<{ name: string; pathname?: string; daysAgo?: number }>,
) {
  await api.clickhouse.insert({
    table: 'events',
    values: events.map((e) => ({
      event_id: randomUUID(),
      site_id: siteId,
      timestamp: new Date(Date.now() - (e.daysAgo ?? 0) * DAY - 60_000)
        .toISOString()
        .replace('T', ' ')
        .replace('Z', ''),
      name: e.name,
      pathname: e.pathname ?? '/',
      hostname: 'example.com',
      visitor_id: 1,
      session_id: 1,
    })),
    format: 'JSONEachRow',
  });
}

const goals = (site: string, token = owner.token) =>
  call(api.app, 'GET', `/api/v1/sites/${site}/goals`, { token });

describe('goals', () => {
  it('creates event and page goals and lists them, most completed in 30 days first', async () => {
    const site = await createSite(api.app, owner.token);
    const signupGoal = await call(api.app, 'POST', `/api/v1/sites/${site.id}/goals`, {
      token: owner.token,
      body: { name: 'Signup', event_name: 'signup' },
    });
    expect(signupGoal.status).toBe(201);
    expect(signupGoal.body.data).toEqual({
      ...GOAL_SHAPE,
      site_id: site.id,
      name: 'Signup',
      event_name: 'signup',
      events_last_30d: 0,
    });
    await invalidations.heard(site.id, 'the site config invalidation');
    await createGoal(api.app, owner.token, site.site_key, { name: 'Pricing', page_path: '/pricing' });
    await createGoal(api.app, owner.token, site.id, { name: 'Blog', page_path: '/blog/*' });

    await insertEvents(site.id, [
      { name: 'signup' },
      { name: 'signup', daysAgo: 40 },
      { name: 'pageview', pathname: '/pricing' },
      { name: 'pageview', pathname: '/pricing/extra' },
      // A custom event on a goal's path is not a pageview of it.
      { name: 'click', pathname: '/pricing' },
      { name: 'pageview', pathname: '/blog/a' },
      { name: 'pageview', pathname: '/blog/b', daysAgo: 29 },
      { name: 'pageview', pathname: '/blog/c' },
      { name: 'pageview', pathname: '/blogger' },
    ]);
    const res = await goals(site.id);
    expect(res.status).toBe(200);
    expect(
      res.body.data.map((g: { name: string; events_last_30d: number }) => [g.name, g.events_last_30d]),
    ).toEqual([
      ['Blog', 3],
      ['Pricing', 1],
      ['Signup', 1],
    ]);
    expect(res.body.data[0]).toEqual({ ...GOAL_SHAPE, site_id: site.id, name: 'Blog', page_path: '/blog/*' });

    // A new goal counts the events that already happened.
    const late = await createGoal(api.app, owner.token, site.id, { name: 'Late', event_name: 'click' });
    expect(late).toMatchObject({ events_last_30d: 1 });
  });

  it('lets a member write goals and a viewer only read them', async () => {
    const site = await createSite(api.app, owner.token);
    const [member, viewer] = [await signup(api.app), await signup(api.app)];
    await invite(api.app, owner.token, site.id, member.email, 'member');
    await invite(api.app, owner.token, site.id, viewer.email, 'viewer');
    const made = await createGoal(api.app, member.token, site.id, { name: 'M', event_name: 'm' });
    expect((await goals(site.id, viewer.token)).body.data.map((g: { id: string }) => g.id)).toEqual([
      made.id,
    ]);
    const refused = await call(api.app, 'POST', `/api/v1/sites/${site.id}/goals`, {
      token: viewer.token,
      body: { name: 'V', event_name: 'v' },
    });
    expectError(refused, 403, 'forbidden');
    expectError(
      await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/goals/${made.id}`, { token: viewer.token }),
      403,
      'forbidden',
    );
  });

  it('refuses invalid goals with 422 per field and writes nothing', async () => {
    const site = await createSite(api.app, owner.token);
    const before = await tableCounts(api.pool);
    const cases: Array<[unknown, Record<string, unknown>]> = [
      [
        { name: 'Both', event_name: 'a', page_path: '/a' },
        { event_name: expect.any(Array), page_path: expect.any(Array) },
      ],
      [{ name: 'Neither' }, { event_name: expect.any(Array), page_path: expect.any(Array) }],
      [{ name: 'Rel', page_path: 'pricing' }, { page_path: ['must start with /'] }],
      [
        { name: 'Mid', page_path: '/a/*/b' },
        { page_path: [expect.stringMatching(/only as its last character/)] },
      ],
      [{ name: '', event_name: 'x' }, { name: ['must not be empty'] }],
      [{ name: 'x'.repeat(121), event_name: 'x' }, { name: [expect.stringMatching(/at most 120/)] }],
      [{ name: 'Extra', event_name: 'x', color: 'red' }, { color: ['is not a known field'] }],
      [
        { name: 'Ctl', event_name: 'a\u0000b' },
        { event_name: [expect.stringMatching(/control characters/)] },
      ],
      // Valid JSON ("\ud800"), but no character: it once reached the activity log's jsonb (500).
      [
        { name: 'Half \ud800 pair', event_name: 'x' },
        { name: [expect.stringMatching(/unpaired surrogates/)] },
      ],
      [{ name: 'Half', page_path: '/\udc00' }, { page_path: [expect.stringMatching(/unpaired surrogates/)] }],
    ];
    for (const [body, details] of cases) {
      const res = await call(api.app, 'POST', `/api/v1/sites/${site.id}/goals`, { token: owner.token, body });
      expect(expectError(res, 422, 'validation_failed').details, JSON.stringify(body)).toEqual(details);
    }
    expectError(
      await call(api.app, 'POST', `/api/v1/sites/${site.id}/goals`, { token: owner.token, body: '{"name":' }),
      400,
      'invalid_request',
    );
    expectError(
      await call(api.app, 'POST', `/api/v1/sites/${site.id}/goals`, {
        token: owner.token,
        body: 'name=x',
        headers: { 'content-type': 'text/plain' },
      }),
      415,
      'unsupported_media_type',
    );
    expectError(
      await call(api.app, 'POST', `/api/v1/sites/${site.id}/goals`, {
        token: owner.token,
        body: { name: 'Big', event_name: 'x'.repeat(70_000) },
      }),
      413,
      'payload_too_large',
    );
    expect(await tableCounts(api.pool)).toEqual(before);
  });

  it('refuses a duplicate name with 409, and unknown query parameters with 400', async () => {
    const site = await createSite(api.app, owner.token);
    await createGoal(api.app, owner.token, site.id, { name: 'Dup', event_name: 'a' });
    const before = await tableCounts(api.pool);
    const dup = await call(api.app, 'POST', `/api/v1/sites/${site.id}/goals`, {
      token: owner.token,
      body: { name: 'Dup', page_path: '/b' },
    });
    expect(expectError(dup, 409, 'conflict').details).toEqual({ name: [expect.any(String)] });
    expect(await tableCounts(api.pool)).toEqual(before);
    // Another site may use the name.
    await createGoal(api.app, owner.token, (await createSite(api.app, owner.token)).id, {
      name: 'Dup',
      event_name: 'a',
    });
    expectError(
      await call(api.app, 'GET', `/api/v1/sites/${site.id}/goals?sort=name`, { token: owner.token }),
      400,
      'invalid_request',
    );
  });

  it('deletes a goal, logs it, and refuses goals a funnel or an alert uses (409)', async () => {
    const site = await createSite(api.app, owner.token);
    const free = await createGoal(api.app, owner.token, site.id, { name: 'Free', event_name: 'free' });
    const used = await createGoal(api.app, owner.token, site.id, { name: 'Used', event_name: 'used' });
    const funnel = await createFunnel(api.app, owner.token, site.id, {
      name: 'F',
      steps: [
        { name: 'Home', type: 'pageview', url: '/' },
        { name: 'Done', type: 'goal', goal_name: 'Used' },
      ],
    });
    const alert = await call(api.app, 'POST', `/api/v1/sites/${site.id}/alerts`, {
      token: owner.token,
      body: goalAlertBody('Used'),
    });
    expect(alert.status).toBe(201);

    invalidations.messages.length = 0;
    const del = await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/goals/${free.id}`, {
      token: owner.token,
    });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ data: { deleted: true } });
    await invalidations.heard(site.id, 'the delete invalidation');

    const before = await tableCounts(api.pool);
    const refused = await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/goals/${used.id}`, {
      token: owner.token,
    });
    expect(expectError(refused, 409, 'conflict').details).toEqual({ alerts: ['On Used'], funnels: ['F'] });
    expect(await tableCounts(api.pool)).toEqual(before);

    // Once the funnel is gone (soft) and the alert deleted, the goal can go.
    await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/funnels/${funnel.id}`, {
      token: owner.token,
    });
    await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/alerts/${alert.body.data.id}`, {
      token: owner.token,
    });
    expect(
      (await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/goals/${used.id}`, { token: owner.token }))
        .status,
    ).toBe(200);
    expect((await goals(site.id)).body.data).toEqual([]);

    const log = await call(api.app, 'GET', '/api/v1/activity?limit=20', { token: owner.token });
    const actions = log.body.data
      .filter(
        (e: { resource_type: string; site_id: string }) =>
          e.resource_type === 'goal' && e.site_id === site.id,
      )
      .map((e: { action: string; metadata: { name: string } }) => `${e.action} ${e.metadata.name}`);
    expect(actions).toEqual([
      'goal.deleted Used',
      'goal.deleted Free',
      'goal.created Used',
      'goal.created Free',
    ]);
  });

  it('answers 404 for unknown, malformed and other sites’ goals', async () => {
    const site = await createSite(api.app, owner.token);
    const other = await signup(api.app);
    const theirs = await createSite(api.app, other.token);
    const theirGoal = await createGoal(api.app, other.token, theirs.id, { name: 'Theirs', event_name: 't' });
    for (const url of [
      `/api/v1/sites/${site.id}/goals/${randomUUID()}`,
      `/api/v1/sites/${site.id}/goals/not-a-uuid`,
      `/api/v1/sites/${site.id}/goals/${theirGoal.id}`,
    ]) {
      expectError(await call(api.app, 'DELETE', url, { token: owner.token }), 404, 'not_found');
    }
    expectError(await goals(theirs.id), 404, 'not_found');
    expect((await goals(theirs.id, other.token)).body.data).toHaveLength(1);
  });
});

describe('goals without ClickHouse', () => {
  let down: TestApi;
  beforeAll(async () => {
    down = await startApi({ CLICKHOUSE_URL: 'http://127.0.0.1:9' });
  });
  afterAll(async () => down?.close());

  it('answers events_last_30d null instead of failing, and counts the failure', async () => {
    const user = await signup(down.app);
    const site = await createSite(down.app, user.token);
    const made = await call(down.app, 'POST', `/api/v1/sites/${site.id}/goals`, {
      token: user.token,
      body: { name: 'G', event_name: 'g' },
    });
    expect(made.status).toBe(201);
    expect(made.body.data.events_last_30d).toBeNull();
    const list = await call(down.app, 'GET', `/api/v1/sites/${site.id}/goals`, { token: user.token });
    expect(list.body.data).toEqual([expect.objectContaining({ name: 'G', events_last_30d: null })]);
    expect(await down.registry.getSingleMetricAsString('tidemark_api_clickhouse_failures_total')).toMatch(
      /operation="goal_events".*} [1-9]/,
    );
  });
});
