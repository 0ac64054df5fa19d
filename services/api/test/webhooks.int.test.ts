import { randomUUID } from 'node:crypto';
import { createWebhookDeliveryQueue, siteConfigChannel, type WebhookDeliveryQueue } from '@tidemark/queues';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/stack';
import {
  call,
  createSite,
  createWebhook,
  expectError,
  signup,
  startApi,
  tableCounts,
  type TestApi,
  type TestUser,
} from './helpers';

let api: TestApi;
let owner: TestUser;
let queue: WebhookDeliveryQueue;
let subscriber: Redis;
const invalidations: string[] = [];

beforeAll(async () => {
  api = await startApi();
  owner = await signup(api.app);
  queue = createWebhookDeliveryQueue({ url: api.config.REDIS_URL, prefix: api.config.REDIS_PREFIX });
  subscriber = new Redis(api.config.REDIS_URL);
  await subscriber.subscribe(siteConfigChannel(api.config.REDIS_PREFIX));
  subscriber.on('message', (_channel, message) => invalidations.push(message));
});
afterAll(async () => {
  subscriber?.disconnect();
  await queue?.close();
  await api?.close();
});

const WEBHOOK_SHAPE = {
  id: expect.stringMatching(/^[0-9a-f-]{36}$/),
  site_id: expect.any(String),
  url: expect.any(String),
  events: expect.any(Array),
  description: null,
  is_enabled: true,
  failing_since: null,
  disabled_at: null,
  disabled_reason: null,
  created_at: expect.any(String),
  updated_at: expect.any(String),
};

const hooks = (site: string) => `/api/v1/sites/${site}/webhooks`;

const invalidated = (siteId: string) =>
  waitFor(() => (invalidations.includes(siteId) ? true : undefined), {
    message: `an invalidation of ${siteId}`,
  });

describe('webhook subscriptions', () => {
  it('shows the secret once, at creation, and never again', async () => {
    const site = await createSite(api.app, owner.token);
    const res = await call(api.app, 'POST', hooks(site.id), {
      token: owner.token,
      body: {
        url: 'HTTPS://Hooks.Example.com/in?token=abc',
        events: ['goal.completed', 'alert.triggered', 'goal.completed'],
        description: 'Slack relay',
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({
      ...WEBHOOK_SHAPE,
      site_id: site.id,
      url: 'https://hooks.example.com/in?token=abc',
      events: ['goal.completed', 'alert.triggered'],
      description: 'Slack relay',
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
    });
    const { id, secret } = res.body.data;
    const { rows } = await api.pool.query('SELECT secret FROM webhook_subscriptions WHERE id = $1', [id]);
    expect(rows[0].secret).toBe(secret);
    await invalidated(site.id);

    const list = await call(api.app, 'GET', hooks(site.id), { token: owner.token });
    expect(list.body.data).toEqual([{ ...WEBHOOK_SHAPE, ...res.body.data, secret: undefined }]);
    expect(JSON.stringify(list.body)).not.toContain(secret);
    const put = await call(api.app, 'PUT', `${hooks(site.id)}/${id}`, {
      token: owner.token,
      body: { description: null },
    });
    expect(put.body.data).toEqual({
      ...list.body.data[0],
      description: null,
      updated_at: expect.any(String),
    });
    expect(JSON.stringify(put.body)).not.toContain(secret);

    // The activity log names the host, never the URL's token.
    const log = await call(api.app, 'GET', '/api/v1/activity?limit=5', { token: owner.token });
    const entries = log.body.data.filter((e: { resource_id: string }) => e.resource_id === id);
    expect(entries.map((e: { action: string; metadata: unknown }) => [e.action, e.metadata])).toEqual([
      ['webhook.updated', { host: 'hooks.example.com', changed: ['description'] }],
      ['webhook.created', { host: 'hooks.example.com', events: ['goal.completed', 'alert.triggered'] }],
    ]);
    expect(JSON.stringify(log.body)).not.toContain('token=abc');
  });

  it('refuses private targets, bad URLs and unknown event types with 422, writing nothing', async () => {
    const site = await createSite(api.app, owner.token);
    const before = await tableCounts(api.pool);
    const post = (body: unknown) => call(api.app, 'POST', hooks(site.id), { token: owner.token, body });
    const cases: Array<[unknown, Record<string, unknown>]> = [
      [
        { url: 'http://127.0.0.1:8080/hook', events: ['pageview'] },
        { url: [expect.stringMatching(/loopback/)] },
      ],
      [{ url: 'http://localhost/hook', events: ['pageview'] }, { url: [expect.stringMatching(/loopback/)] }],
      [{ url: 'http://10.1.2.3/hook', events: ['pageview'] }, { url: [expect.stringMatching(/private/)] }],
      [
        { url: 'http://169.254.169.254/latest', events: ['pageview'] },
        { url: [expect.stringMatching(/metadata/)] },
      ],
      [{ url: 'http://[::1]/hook', events: ['pageview'] }, { url: [expect.stringMatching(/loopback/)] }],
      [{ url: 'ftp://example.com/hook', events: ['pageview'] }, { url: ['must use http or https'] }],
      [
        { url: 'https://user:pw@example.com/', events: ['pageview'] },
        { url: ['must not contain credentials'] },
      ],
      [{ url: 'example.com/hook', events: ['pageview'] }, { url: ['must be an absolute URL'] }],
      [{ url: 'https://example.com/', events: [] }, { events: ['must list at least one event type'] }],
      [
        { url: 'https://example.com/', events: ['signup'] },
        { 'events.0': [expect.stringMatching(/must be one of/)] },
      ],
      [
        { url: 'https://example.com/', events: ['event'], secret: 'whsec_x' },
        { secret: ['is not a known field'] },
      ],
      [{ events: ['event'] }, { url: [expect.any(String)] }],
    ];
    for (const [body, details] of cases) {
      expect(expectError(await post(body), 422, 'validation_failed').details, JSON.stringify(body)).toEqual(
        details,
      );
    }
    expect(await tableCounts(api.pool)).toEqual(before);

    const hook = await createWebhook(api.app, owner.token, site.id);
    const afterCreate = await tableCounts(api.pool);
    const put = await call(api.app, 'PUT', `${hooks(site.id)}/${hook.id}`, {
      token: owner.token,
      body: { url: 'http://192.168.0.10/' },
    });
    expect(expectError(put, 422, 'validation_failed').details).toEqual({
      url: [expect.stringMatching(/private/)],
    });
    expectError(
      await call(api.app, 'PUT', `${hooks(site.id)}/${hook.id}`, { token: owner.token, body: {} }),
      422,
      'validation_failed',
    );
    expect(await tableCounts(api.pool)).toEqual(afterCreate);
  });

  it('clears the worker’s disabling when a subscription is enabled again', async () => {
    const site = await createSite(api.app, owner.token);
    const hook = await createWebhook(api.app, owner.token, site.id);
    await api.pool.query(
      `UPDATE webhook_subscriptions
          SET is_enabled = false, disabled_at = now(), disabled_reason = 'every attempt failed since x',
              failing_since = now() - interval '6 days'
        WHERE id = $1`,
      [hook.id],
    );
    const disabled = (await call(api.app, 'GET', hooks(site.id), { token: owner.token })).body.data[0];
    expect(disabled).toMatchObject({
      is_enabled: false,
      disabled_at: expect.any(String),
      disabled_reason: 'every attempt failed since x',
      failing_since: expect.any(String),
    });
    invalidations.length = 0;
    const res = await call(api.app, 'PUT', `${hooks(site.id)}/${hook.id}`, {
      token: owner.token,
      body: { is_enabled: true, events: ['pageview', 'event'] },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      is_enabled: true,
      events: ['pageview', 'event'],
      disabled_at: null,
      disabled_reason: null,
      failing_since: null,
    });
    await invalidated(site.id);
  });

  it('deletes a subscription with its deliveries', async () => {
    const site = await createSite(api.app, owner.token);
    const hook = await createWebhook(api.app, owner.token, site.id);
    await call(api.app, 'POST', `${hooks(site.id)}/${hook.id}/test`, { token: owner.token });
    invalidations.length = 0;
    const del = await call(api.app, 'DELETE', `${hooks(site.id)}/${hook.id}`, { token: owner.token });
    expect(del.body).toEqual({ data: { deleted: true } });
    await invalidated(site.id);
    const { rows } = await api.pool.query(
      'SELECT count(*)::int AS n FROM webhook_deliveries WHERE subscription_id = $1',
      [hook.id],
    );
    expect(rows[0].n).toBe(0);
    expectError(
      await call(api.app, 'DELETE', `${hooks(site.id)}/${hook.id}`, { token: owner.token }),
      404,
      'not_found',
    );
  });

  it('answers 404 for unknown, malformed and other sites’ subscriptions', async () => {
    const site = await createSite(api.app, owner.token);
    const stranger = await signup(api.app);
    const theirs = await createSite(api.app, stranger.token);
    const theirHook = await createWebhook(api.app, stranger.token, theirs.id);
    for (const id of [randomUUID(), 'nope', theirHook.id]) {
      const base = `${hooks(site.id)}/${id}`;
      expectError(await call(api.app, 'DELETE', base, { token: owner.token }), 404, 'not_found');
      expectError(
        await call(api.app, 'PUT', base, { token: owner.token, body: { is_enabled: false } }),
        404,
        'not_found',
      );
      expectError(await call(api.app, 'POST', `${base}/test`, { token: owner.token }), 404, 'not_found');
      expectError(await call(api.app, 'GET', `${base}/deliveries`, { token: owner.token }), 404, 'not_found');
    }
    expectError(await call(api.app, 'GET', hooks(theirs.id), { token: owner.token }), 404, 'not_found');
  });
});

describe('webhook deliveries', () => {
  it('creates a test delivery and enqueues its job, for a disabled subscription too', async () => {
    const site = await createSite(api.app, owner.token);
    const hook = await createWebhook(api.app, owner.token, site.id, { is_enabled: false });
    const res = await call(api.app, 'POST', `${hooks(site.id)}/${hook.id}/test`, { token: owner.token });
    expect(res.status).toBe(202);
    expect(res.body.data).toEqual({
      id: expect.stringMatching(/^msg_[0-9a-f]{32}$/),
      event_type: 'webhook.test',
      status: 'pending',
      is_test: true,
      payload: {
        type: 'webhook.test',
        timestamp: expect.any(String),
        data: { subscription_id: hook.id, message: expect.any(String) },
      },
      next_attempt_at: expect.any(String),
      last_status_code: null,
      last_error: null,
      created_at: expect.any(String),
      completed_at: null,
      attempts: [],
    });
    const deliveryId = res.body.data.id as string;
    const { rows } = await api.pool.query(
      'SELECT subscription_id, is_test FROM webhook_deliveries WHERE id = $1',
      [deliveryId],
    );
    expect(rows).toEqual([{ subscription_id: hook.id, is_test: true }]);
    const job = await queue.getJob(deliveryId);
    expect(job?.data).toEqual({ type: 'deliver', deliveryId });
  });

  it('pages deliveries newest first, each with its attempts', async () => {
    const site = await createSite(api.app, owner.token);
    const hook = await createWebhook(api.app, owner.token, site.id);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (await call(api.app, 'POST', `${hooks(site.id)}/${hook.id}/test`, { token: owner.token })).body.data
          .id,
      );
    }
    // What the worker records: a failed attempt, then a success.
    await api.pool.query(
      `INSERT INTO webhook_delivery_attempts (delivery_id, attempt, status_code, latency_ms, response_excerpt, error, at)
       VALUES ($1, 1, 500, 120, 'oops', NULL, now() - interval '1 minute'),
              ($1, 2, NULL, 10000, NULL, 'timed out after 10000 ms', now() - interval '30 seconds'),
              ($1, 3, 204, 35, '', NULL, now())`,
      [ids[0]],
    );
    await api.pool.query(
      `UPDATE webhook_deliveries SET status = 'succeeded', attempts = 3, last_status_code = 204, completed_at = now(),
              next_attempt_at = NULL, created_at = created_at - interval '1 hour'
        WHERE id = $1`,
      [ids[0]],
    );
    const page1 = await call(api.app, 'GET', `${hooks(site.id)}/${hook.id}/deliveries?limit=2`, {
      token: owner.token,
    });
    expect(page1.status).toBe(200);
    expect(page1.body.pagination).toEqual({ page_number: 1, limit: 2, total_rows: 3, total_pages: 2 });
    expect(page1.body.data.map((d: { id: string }) => d.id)).toEqual([ids[2], ids[1]]);
    const page2 = await call(
      api.app,
      'GET',
      `${hooks(site.id)}/${hook.id}/deliveries?limit=2&page_number=2`,
      {
        token: owner.token,
      },
    );
    expect(page2.body.data).toHaveLength(1);
    expect(page2.body.data[0]).toMatchObject({
      id: ids[0],
      status: 'succeeded',
      last_status_code: 204,
      completed_at: expect.any(String),
      attempts: [
        {
          attempt: 1,
          status_code: 500,
          latency_ms: 120,
          response_excerpt: 'oops',
          error: null,
          manual: false,
          at: expect.any(String),
        },
        {
          attempt: 2,
          status_code: null,
          latency_ms: 10000,
          response_excerpt: null,
          error: 'timed out after 10000 ms',
          manual: false,
          at: expect.any(String),
        },
        {
          attempt: 3,
          status_code: 204,
          latency_ms: 35,
          response_excerpt: '',
          error: null,
          manual: false,
          at: expect.any(String),
        },
      ],
    });
    for (const query of ['limit=0', 'limit=101', 'page_number=0', 'status=failed']) {
      expectError(
        await call(api.app, 'GET', `${hooks(site.id)}/${hook.id}/deliveries?${query}`, {
          token: owner.token,
        }),
        400,
        'invalid_request',
      );
    }
  });

  it('redelivers a delivery of the subscription, and nobody else’s', async () => {
    const site = await createSite(api.app, owner.token);
    const hook = await createWebhook(api.app, owner.token, site.id);
    const deliveryId = (
      await call(api.app, 'POST', `${hooks(site.id)}/${hook.id}/test`, { token: owner.token })
    ).body.data.id as string;
    const res = await call(
      api.app,
      'POST',
      `${hooks(site.id)}/${hook.id}/deliveries/${deliveryId}/redeliver`,
      {
        token: owner.token,
      },
    );
    expect(res.status).toBe(202);
    expect(res.body.data.id).toBe(deliveryId);
    const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized', 'active']);
    const manual = jobs.filter(
      (j) => j.data.type === 'deliver' && j.data.deliveryId === deliveryId && j.data.manual,
    );
    expect(manual).toHaveLength(1);
    expect(manual[0]!.id).toMatch(new RegExp(`^redeliver_${deliveryId}_`));

    // Another site's delivery, through this site's subscription or through theirs: not found.
    const stranger = await signup(api.app);
    const theirs = await createSite(api.app, stranger.token);
    const theirHook = await createWebhook(api.app, stranger.token, theirs.id);
    const theirDelivery = (
      await call(api.app, 'POST', `${hooks(theirs.id)}/${theirHook.id}/test`, { token: stranger.token })
    ).body.data.id as string;
    const sibling = await createWebhook(api.app, owner.token, site.id);
    for (const path of [
      `${hooks(site.id)}/${hook.id}/deliveries/${theirDelivery}/redeliver`,
      `${hooks(site.id)}/${theirHook.id}/deliveries/${theirDelivery}/redeliver`,
      `${hooks(theirs.id)}/${theirHook.id}/deliveries/${theirDelivery}/redeliver`,
      `${hooks(site.id)}/${sibling.id}/deliveries/${deliveryId}/redeliver`,
      `${hooks(site.id)}/${hook.id}/deliveries/msg_${'0'.repeat(32)}/redeliver`,
      `${hooks(site.id)}/${hook.id}/deliveries/not-a-delivery/redeliver`,
    ]) {
      expectError(await call(api.app, 'POST', path, { token: owner.token }), 404, 'not_found');
    }
    const after = await queue.getJobs(['waiting', 'delayed', 'prioritized', 'active']);
    expect(
      after.filter((j) => j.data.type === 'deliver' && j.data.deliveryId === theirDelivery && j.data.manual),
    ).toEqual([]);
  });
});

describe('webhooks without Redis', () => {
  let down: TestApi;
  beforeAll(async () => {
    down = await startApi({ REDIS_URL: 'redis://127.0.0.1:9' });
  });
  afterAll(async () => down?.close());

  it('answers 503 to test and redeliver, leaving no delivery behind', async () => {
    const user = await signup(down.app);
    const site = await createSite(down.app, user.token);
    const hook = await createWebhook(down.app, user.token, site.id);
    const before = await tableCounts(down.pool);
    const test = await call(down.app, 'POST', `${hooks(site.id)}/${hook.id}/test`, { token: user.token });
    expectError(test, 503, 'unavailable');
    expect(test.headers['retry-after']).toBe('30');
    expect(await tableCounts(down.pool)).toEqual(before);

    const { rows } = await down.pool.query<{ id: string }>(
      `INSERT INTO webhook_deliveries (subscription_id, event_type, payload, dedupe_key)
       VALUES ($1, 'pageview', '{"type":"pageview","timestamp":"2026-03-06T08:00:00.000Z","data":{}}', 'x')
       RETURNING id`,
      [hook.id],
    );
    expectError(
      await call(down.app, 'POST', `${hooks(site.id)}/${hook.id}/deliveries/${rows[0]!.id}/redeliver`, {
        token: user.token,
      }),
      503,
      'unavailable',
    );
  });
});

describe('OpenAPI', () => {
  it('documents the goal, funnel, alert and webhook routes from their schemas', async () => {
    const res = await call(api.app, 'GET', '/docs/json');
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/sites/{site}/goals/',
        '/api/v1/sites/{site}/goals/{id}',
        '/api/v1/sites/{site}/funnels/{id}',
        '/api/v1/sites/{site}/alerts/history',
        '/api/v1/sites/{site}/webhooks/{id}/test',
        '/api/v1/sites/{site}/webhooks/{id}/deliveries',
        '/api/v1/sites/{site}/webhooks/{id}/deliveries/{delivery_id}/redeliver',
      ]),
    );
    const alert =
      res.body.paths['/api/v1/sites/{site}/alerts/'].post.requestBody.content['application/json'].schema;
    expect(alert.properties.trigger.anyOf).toHaveLength(2);
    const hook =
      res.body.paths['/api/v1/sites/{site}/webhooks/'].post.responses['201'].content['application/json'];
    expect(hook.schema.properties.data.required).toContain('secret');
  });
});
