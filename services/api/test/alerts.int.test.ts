import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  createGoal,
  createSite,
  expectError,
  goalAlertBody,
  signup,
  startApi,
  tableCounts,
  type TestApi,
  type TestUser,
} from './helpers';

let api: TestApi;
let owner: TestUser;
let site: { id: string; site_key: string };

beforeAll(async () => {
  api = await startApi();
  owner = await signup(api.app);
  site = await createSite(api.app, owner.token);
  await createGoal(api.app, owner.token, site.id, { name: 'Signup', event_name: 'signup' });
});
afterAll(async () => api?.close());

const url = (path = '') => `/api/v1/sites/${site.id}/alerts${path}`;

const THRESHOLD = {
  name: 'Traffic drop',
  trigger: { metric: 'visitors', window_minutes: 60, op: 'lt', value: 5 },
  template: {
    subject: '{{metric}} {{op}} {{threshold}}',
    message: 'Only {{value}} in {{window_minutes}} min.\n',
  },
  is_enabled: false,
  cooldown_minutes: 120,
};

const ALERT_SHAPE = {
  id: expect.stringMatching(/^[0-9a-f-]{36}$/),
  site_id: expect.any(String),
  name: expect.any(String),
  trigger: expect.any(Object),
  template: expect.any(Object),
  is_enabled: expect.any(Boolean),
  cooldown_minutes: expect.any(Number),
  last_fired_at: null,
  created_at: expect.any(String),
  updated_at: expect.any(String),
};

async function recordFiring(alertId: string, firedAt: Date, extra: Record<string, unknown> = {}) {
  const { rows } = await api.pool.query<{ id: string }>(
    `INSERT INTO alert_history (alert_id, site_id, fired_at, value, window_start, window_end, event_id, subject, message, dedupe_key)
     SELECT id, site_id, $2, $3, $4, $5, $6, 'S', 'M', $7 FROM alerts WHERE id = $1 RETURNING id`,
    [
      alertId,
      firedAt,
      extra.value ?? null,
      extra.window_start ?? null,
      extra.window_end ?? null,
      extra.event_id ?? null,
      randomUUID(),
    ],
  );
  return rows[0]!.id;
}

describe('alerts', () => {
  it('creates goal and threshold alerts with defaults, updates and deletes them, logging each change', async () => {
    const goal = await call(api.app, 'POST', url(), { token: owner.token, body: goalAlertBody('Signup') });
    expect(goal.status).toBe(201);
    expect(goal.body.data).toEqual({
      ...ALERT_SHAPE,
      site_id: site.id,
      ...goalAlertBody('Signup'),
      is_enabled: true,
      cooldown_minutes: 60,
    });
    const threshold = await call(api.app, 'POST', url(), { token: owner.token, body: THRESHOLD });
    expect(threshold.body.data).toEqual({ ...ALERT_SHAPE, site_id: site.id, ...THRESHOLD });
    expect((await call(api.app, 'GET', url(), { token: owner.token })).body.data).toEqual([
      goal.body.data,
      threshold.body.data,
    ]);

    const id = threshold.body.data.id as string;
    const updated = await call(api.app, 'PUT', url(`/${id}`), {
      token: owner.token,
      body: { is_enabled: true, trigger: { goal_name: 'Signup' } },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.data).toEqual({
      ...threshold.body.data,
      is_enabled: true,
      trigger: { goal_name: 'Signup' },
      updated_at: expect.any(String),
    });
    expect((await call(api.app, 'DELETE', url(`/${id}`), { token: owner.token })).body).toEqual({
      data: { deleted: true },
    });
    expectError(await call(api.app, 'DELETE', url(`/${id}`), { token: owner.token }), 404, 'not_found');

    const log = await call(api.app, 'GET', '/api/v1/activity?limit=10', { token: owner.token });
    expect(
      log.body.data
        .filter((e: { resource_id: string }) => e.resource_id === id)
        .map((e: { action: string; metadata: Record<string, unknown> }) => [e.action, e.metadata]),
    ).toEqual([
      ['alert.deleted', { name: 'Traffic drop' }],
      ['alert.updated', { name: 'Traffic drop', changed: ['trigger', 'is_enabled'] }],
      ['alert.created', { name: 'Traffic drop', trigger: THRESHOLD.trigger }],
    ]);
  });

  it('refuses invalid alerts with 422 per field and writes nothing', async () => {
    const before = await tableCounts(api.pool);
    const post = (body: unknown) => call(api.app, 'POST', url(), { token: owner.token, body });
    const cases: Array<[unknown, Record<string, unknown>]> = [
      [goalAlertBody('Nope'), { 'trigger.goal_name': ['there is no goal named "Nope" on this site'] }],
      [
        { ...THRESHOLD, trigger: { metric: 'sessions', window_minutes: 60, op: 'gt', value: 1 } },
        {
          'trigger.metric': ['must be one of visitors, pageviews, events'],
        },
      ],
      [
        { ...THRESHOLD, trigger: { metric: 'visitors', window_minutes: 0, op: 'gt', value: 1 } },
        {
          'trigger.window_minutes': ['must be at least 1'],
        },
      ],
      [
        { ...THRESHOLD, trigger: { metric: 'visitors', window_minutes: 5, op: 'eq', value: 1 } },
        {
          'trigger.op': ['must be gt or lt'],
        },
      ],
      [
        { ...THRESHOLD, trigger: 'soon' },
        { trigger: ['must be {goal_name} or {metric, window_minutes, op, value}'] },
      ],
      [
        { ...THRESHOLD, trigger: { metric: 'events' } },
        {
          'trigger.window_minutes': ['must be a whole number of minutes'],
          'trigger.op': ['must be gt or lt'],
          'trigger.value': ['must be a number'],
        },
      ],
      [
        { ...THRESHOLD, trigger: { goal_name: 'Signup', metric: 'visitors' } },
        {
          'trigger.metric': ['is not a known field'],
        },
      ],
      [{ ...THRESHOLD, template: { subject: 'S' } }, { 'template.message': [expect.any(String)] }],
      [{ ...THRESHOLD, cooldown_minutes: -1 }, { cooldown_minutes: ['must not be negative'] }],
      [{ ...THRESHOLD, is_enabled: 'yes' }, { is_enabled: [expect.any(String)] }],
    ];
    for (const [body, details] of cases) {
      expect(expectError(await post(body), 422, 'validation_failed').details, JSON.stringify(body)).toEqual(
        details,
      );
    }
    const existing = await post(THRESHOLD);
    const afterCreate = await tableCounts(api.pool);
    const put = (body: unknown) =>
      call(api.app, 'PUT', url(`/${existing.body.data.id}`), { token: owner.token, body });
    expectError(await put({}), 422, 'validation_failed');
    expect(
      expectError(await put({ trigger: { goal_name: 'Gone' } }), 422, 'validation_failed').details,
    ).toEqual({
      'trigger.goal_name': ['there is no goal named "Gone" on this site'],
    });
    expect(await tableCounts(api.pool)).toEqual(afterCreate);
    expect(afterCreate.alerts).toBe(before.alerts! + 1);
  });

  it('lists the history newest first, per alert and with a limit', async () => {
    const a = (await call(api.app, 'POST', url(), { token: owner.token, body: goalAlertBody('Signup') })).body
      .data;
    const b = (await call(api.app, 'POST', url(), { token: owner.token, body: THRESHOLD })).body.data;
    const eventId = randomUUID();
    const t = (m: number) => new Date(Date.UTC(2026, 2, 6, 8, m));
    const first = await recordFiring(a.id, t(0), { event_id: eventId });
    const second = await recordFiring(b.id, t(1), { value: 3, window_start: t(-59), window_end: t(1) });
    const third = await recordFiring(a.id, t(2));

    const all = await call(api.app, 'GET', url('/history'), { token: owner.token });
    expect(all.status).toBe(200);
    expect(all.body.data.map((h: { id: string }) => h.id)).toEqual([third, second, first]);
    expect(all.body.data[1]).toEqual({
      id: second,
      alert_id: b.id,
      alert_name: 'Traffic drop',
      fired_at: t(1).toISOString(),
      value: 3,
      window: { from: t(-59).toISOString(), to: t(1).toISOString() },
      event_id: null,
      subject: 'S',
      message: 'M',
    });
    expect(all.body.data[2]).toMatchObject({ event_id: eventId, value: null, window: null });

    const one = await call(api.app, 'GET', url(`/history?alert_id=${a.id}&limit=1`), { token: owner.token });
    expect(one.body.data.map((h: { id: string }) => h.id)).toEqual([third]);

    expectError(
      await call(api.app, 'GET', url('/history?alert_id=nope'), { token: owner.token }),
      400,
      'invalid_request',
    );
    expectError(
      await call(api.app, 'GET', url('/history?limit=0'), { token: owner.token }),
      400,
      'invalid_request',
    );
    expectError(
      await call(api.app, 'GET', url('/history?since=1'), { token: owner.token }),
      400,
      'invalid_request',
    );
    expectError(
      await call(api.app, 'GET', url(`/history?alert_id=${randomUUID()}`), { token: owner.token }),
      404,
      'not_found',
    );
  });

  it('answers 404 for unknown, malformed and other sites’ alerts', async () => {
    const stranger = await signup(api.app);
    const theirs = await createSite(api.app, stranger.token);
    const theirAlert = await call(api.app, 'POST', `/api/v1/sites/${theirs.id}/alerts`, {
      token: stranger.token,
      body: THRESHOLD,
    });
    for (const id of [randomUUID(), 'nope', theirAlert.body.data.id]) {
      expectError(await call(api.app, 'DELETE', url(`/${id}`), { token: owner.token }), 404, 'not_found');
      expectError(
        await call(api.app, 'PUT', url(`/${id}`), { token: owner.token, body: { name: 'Mine' } }),
        404,
        'not_found',
      );
    }
    expectError(
      await call(api.app, 'GET', url(`/history?alert_id=${theirAlert.body.data.id}`), { token: owner.token }),
      404,
      'not_found',
    );
    expectError(
      await call(api.app, 'GET', `/api/v1/sites/${theirs.id}/alerts/history`, { token: owner.token }),
      404,
      'not_found',
    );
  });
});
