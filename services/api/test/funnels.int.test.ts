import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  createGoal,
  createSite,
  expectError,
  signup,
  startApi,
  tableCounts,
  type TestApi,
  type TestUser,
  createFunnel,
} from './helpers';

let api: TestApi;
let owner: TestUser;
let site: { id: string; site_key: string };

beforeAll(async () => {
  api = await startApi();
  owner = await signup(api.app);
  site = await createSite(api.app, owner.token);
  await createGoal(api.app, owner.token, site.id, { name: 'Signed up', event_name: 'signup' });
});
afterAll(async () => api?.close());

const url = (path = '') => `/api/v1/sites/${site.id}/funnels${path}`;

const STEPS = [
  { name: 'Landing', type: 'pageview', url: '/' },
  { name: 'Pricing', type: 'pageview', url: '/pricing*' },
  { name: 'Signed up', type: 'goal', goal_name: 'Signed up' },
];

const FUNNEL_SHAPE = {
  id: expect.stringMatching(/^[0-9a-f-]{36}$/),
  site_id: expect.any(String),
  name: expect.any(String),
  steps: expect.any(Array),
  window_minutes: expect.any(Number),
  created_at: expect.any(String),
  updated_at: expect.any(String),
};

describe('funnels', () => {
  it('creates, lists, updates and soft-deletes a funnel, logging each change', async () => {
    const created = await call(api.app, 'POST', url(), {
      token: owner.token,
      body: { name: 'Signup funnel', steps: STEPS },
    });
    expect(created.status).toBe(201);
    expect(created.body.data).toEqual({
      ...FUNNEL_SHAPE,
      site_id: site.id,
      name: 'Signup funnel',
      steps: STEPS,
      window_minutes: 1440,
    });
    const id = created.body.data.id as string;

    const list = await call(api.app, 'GET', url(), { token: owner.token });
    expect(list.body.data).toEqual([created.body.data]);

    const updated = await call(api.app, 'PUT', url(`/${id}`), {
      token: owner.token,
      body: { window_minutes: 60, steps: STEPS.slice(0, 2) },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.data).toEqual({
      ...created.body.data,
      window_minutes: 60,
      steps: STEPS.slice(0, 2),
      updated_at: expect.any(String),
    });
    // The same values again change nothing and log nothing.
    const same = await call(api.app, 'PUT', url(`/${id}`), {
      token: owner.token,
      body: { window_minutes: 60 },
    });
    expect(same.body.data.updated_at).toBe(updated.body.data.updated_at);

    const del = await call(api.app, 'DELETE', url(`/${id}`), { token: owner.token });
    expect(del.body).toEqual({ data: { deleted: true } });
    expect((await call(api.app, 'GET', url(), { token: owner.token })).body.data).toEqual([]);
    const { rows } = await api.pool.query('SELECT deleted_at FROM funnels WHERE id = $1', [id]);
    expect(rows[0].deleted_at).toBeInstanceOf(Date);
    expectError(await call(api.app, 'DELETE', url(`/${id}`), { token: owner.token }), 404, 'not_found');
    expectError(
      await call(api.app, 'PUT', url(`/${id}`), { token: owner.token, body: { name: 'Again' } }),
      404,
      'not_found',
    );

    // The name of a deleted funnel is free again.
    const again = await call(api.app, 'POST', url(), {
      token: owner.token,
      body: { name: 'Signup funnel', steps: STEPS },
    });
    expect(again.status).toBe(201);

    const log = await call(api.app, 'GET', '/api/v1/activity?limit=10', { token: owner.token });
    const actions = log.body.data
      .filter((e: { resource_id: string }) => e.resource_id === id)
      .map((e: { action: string; metadata: Record<string, unknown> }) => [e.action, e.metadata]);
    expect(actions).toEqual([
      ['funnel.deleted', { name: 'Signup funnel' }],
      ['funnel.updated', { name: 'Signup funnel', changed: ['steps', 'window_minutes'] }],
      ['funnel.created', { name: 'Signup funnel', steps: 3 }],
    ]);
  });

  it('refuses bad steps with 422 naming the step, and writes nothing', async () => {
    const before = await tableCounts(api.pool);
    const post = (body: unknown) => call(api.app, 'POST', url(), { token: owner.token, body });
    const cases: Array<[unknown, Record<string, unknown>]> = [
      [{ name: 'One', steps: STEPS.slice(0, 1) }, { steps: ['must have 2 to 8 steps'] }],
      [
        { name: 'Nine', steps: Array.from({ length: 9 }, () => STEPS[0]) },
        { steps: ['must have 2 to 8 steps'] },
      ],
      [
        { name: 'Unknown goal', steps: [STEPS[0], { name: 'X', type: 'goal', goal_name: 'Nope' }] },
        { 'steps.1.goal_name': ['there is no goal named "Nope" on this site'] },
      ],
      [
        { name: 'Bad type', steps: [STEPS[0], { name: 'X', type: 'click', url: '/' }] },
        { 'steps.1.type': [expect.stringMatching(/must be "pageview"/)] },
      ],
      [
        { name: 'Bad url', steps: [STEPS[0], { name: 'X', type: 'pageview', url: 'https://x.com/' }] },
        { 'steps.1.url': ['must start with /'] },
      ],
      [
        { name: 'Mixed', steps: [STEPS[0], { name: 'X', type: 'pageview', goal_name: 'Signed up' }] },
        { 'steps.1.url': [expect.any(String)], 'steps.1.goal_name': ['is not a known field'] },
      ],
      [{ name: 'Window', steps: STEPS, window_minutes: 0 }, { window_minutes: ['must be at least 1'] }],
      [{ name: 'Window', steps: STEPS, window_minutes: 1.5 }, { window_minutes: [expect.any(String)] }],
      [{ steps: STEPS }, { name: [expect.any(String)] }],
    ];
    for (const [body, details] of cases) {
      expect(expectError(await post(body), 422, 'validation_failed').details, JSON.stringify(body)).toEqual(
        details,
      );
    }
    const existing = await post({ name: 'Kept', steps: STEPS });
    const afterCreate = await tableCounts(api.pool);
    const put = (body: unknown) =>
      call(api.app, 'PUT', url(`/${existing.body.data.id}`), { token: owner.token, body });
    expect(expectError(await put({}), 422, 'validation_failed').details).toEqual({
      body: ['send at least one of name, steps, window_minutes'],
    });
    expect(
      expectError(
        await put({ steps: [STEPS[0], { name: 'G', type: 'goal', goal_name: 'Gone' }] }),
        422,
        'validation_failed',
      ).details,
    ).toEqual({ 'steps.1.goal_name': ['there is no goal named "Gone" on this site'] });
    expect(await tableCounts(api.pool)).toEqual(afterCreate);
    expect(afterCreate.funnels).toBe(before.funnels! + 1);
  });

  it('refuses a name a live funnel of the site has with 409', async () => {
    await call(api.app, 'POST', url(), { token: owner.token, body: { name: 'Taken', steps: STEPS } });
    const other = await call(api.app, 'POST', url(), {
      token: owner.token,
      body: { name: 'Other', steps: STEPS },
    });
    const before = await tableCounts(api.pool);
    expectError(
      await call(api.app, 'POST', url(), { token: owner.token, body: { name: 'Taken', steps: STEPS } }),
      409,
      'conflict',
    );
    expectError(
      await call(api.app, 'PUT', url(`/${other.body.data.id}`), {
        token: owner.token,
        body: { name: 'Taken' },
      }),
      409,
      'conflict',
    );
    expect(await tableCounts(api.pool)).toEqual(before);
  });

  it('answers 404 for unknown, malformed and other sites’ funnels', async () => {
    const stranger = await signup(api.app);
    const theirs = await createSite(api.app, stranger.token);
    const theirFunnel = await createFunnel(api.app, stranger.token, theirs.id, {
      name: 'Theirs',
      steps: STEPS.slice(0, 2),
    });
    for (const id of [randomUUID(), 'nope', theirFunnel.id]) {
      expectError(await call(api.app, 'DELETE', url(`/${id}`), { token: owner.token }), 404, 'not_found');
      expectError(
        await call(api.app, 'PUT', url(`/${id}`), { token: owner.token, body: { name: 'Mine' } }),
        404,
        'not_found',
      );
    }
    expectError(
      await call(api.app, 'GET', `/api/v1/sites/${theirs.id}/funnels`, { token: owner.token }),
      404,
      'not_found',
    );
  });
});
