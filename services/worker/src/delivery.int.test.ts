import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pool } from '@tidemark/db';
import {
  createSiteEventsQueue,
  createWebhookDeliveryQueue,
  enqueueDelivery,
  enqueueEventsFanout,
  enqueueGoalCompleted,
  enqueueRedelivery,
  type SiteEventsQueue,
  type WebhookDeliveryQueue,
} from '@tidemark/queues';
import { createTestDelivery, type WebhookEventItem } from '@tidemark/webhooks';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, waitFor } from '../../../test/support/stack';
import {
  Receiver,
  attemptsOf,
  counterValue,
  createSubscription,
  deliveryState,
  newPool,
  seedSite,
  startInProcess,
  workerEnv,
  type InProcessWorker,
} from './int-support';

let pool: Pool;
let env: Record<string, string>;
let worker: InProcessWorker;
let deliveryQueue: WebhookDeliveryQueue;
let siteEventsQueue: SiteEventsQueue;
let siteId: string;
let receiver: Receiver;

beforeAll(async () => {
  const url = await freshPostgres();
  pool = newPool(url);
  env = workerEnv(url, { WEBHOOK_RETRY_SCHEDULE: '300ms,300ms,300ms', WEBHOOK_DISABLE_AFTER: '1h' });
  worker = await startInProcess(env, pool);
  const conn = { url: env.REDIS_URL!, prefix: env.REDIS_PREFIX! };
  deliveryQueue = createWebhookDeliveryQueue(conn);
  siteEventsQueue = createSiteEventsQueue(conn);
});

afterEach(async () => {
  await receiver?.close();
});

afterAll(async () => {
  await worker?.stop();
  await deliveryQueue?.close();
  await siteEventsQueue?.close();
  await pool?.end();
});

/** A new site with one subscription to a fresh receiver. */
async function setup(events?: string[]) {
  siteId = await seedSite(pool);
  receiver = await Receiver.start();
  const subscription = await createSubscription(pool, siteId, receiver.url, events);
  return subscription;
}

async function testDelivery(subscriptionId: string): Promise<string> {
  const id = await createTestDelivery(pool, subscriptionId);
  await enqueueDelivery(deliveryQueue, id!);
  return id!;
}

const settled = (id: string) =>
  waitFor(
    async () => {
      const state = await deliveryState(pool, id);
      return state.status === 'succeeded' || state.status === 'failed' ? state : undefined;
    },
    { timeout: 20_000, message: `delivery ${id} to finish` },
  );

describe('webhook delivery', () => {
  it('signs deliveries so the official Standard Webhooks verifier accepts them', async () => {
    const { id: subscriptionId, secret } = await setup();
    const id = await testDelivery(subscriptionId);
    expect(await settled(id)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(receiver.requests).toHaveLength(1);
    const [req] = receiver.requests;
    const payload = new Webhook(secret).verify(req!.body, {
      'webhook-id': String(req!.headers['webhook-id']),
      'webhook-timestamp': String(req!.headers['webhook-timestamp']),
      'webhook-signature': String(req!.headers['webhook-signature']),
    });
    expect(req!.headers['webhook-id']).toBe(id);
    expect(payload).toMatchObject({
      type: 'webhook.test',
      timestamp: expect.any(String),
      data: { subscription_id: subscriptionId },
    });
    const [attempt] = await attemptsOf(pool, id);
    expect(attempt).toMatchObject({ attempt: 1, status_code: 200, manual: false });
  });

  it('retries failures on the schedule with the same webhook-id, then succeeds exactly once', async () => {
    const { id: subscriptionId } = await setup();
    receiver.answer = (_req, i) => (i < 2 ? { status: 500, body: `boom ${i}` } : 200);
    const id = await testDelivery(subscriptionId);
    expect(await settled(id)).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([id, id, id]);
    // Same bytes each time, newer signature timestamps.
    expect(new Set(receiver.requests.map((r) => r.body)).size).toBe(1);
    const attempts = await attemptsOf(pool, id);
    expect(attempts.map((a) => [a.attempt, a.status_code, a.response_excerpt])).toEqual([
      [1, 500, 'boom 0'],
      [2, 500, 'boom 1'],
      [3, 200, ''],
    ]);
    // 300 ms ± 20% between attempts.
    const gaps = receiver.requests.slice(1).map((r, i) => r.at - receiver.requests[i]!.at);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(230);
    const { rows } = await pool.query('SELECT failing_since FROM webhook_subscriptions WHERE id = $1', [
      subscriptionId,
    ]);
    expect(rows[0].failing_since).toBeNull();
    // Nothing else arrives later.
    await new Promise((r) => setTimeout(r, 800));
    expect(receiver.requests).toHaveLength(3);
  });

  it('gives up after the schedule and keeps the endpoint while it has not failed long enough', async () => {
    const { id: subscriptionId } = await setup();
    receiver.answer = () => 503;
    const id = await testDelivery(subscriptionId);
    expect(await settled(id)).toMatchObject({ status: 'failed', attempts: 4, last_error: null });
    const { rows } = await pool.query(
      'SELECT is_enabled, failing_since FROM webhook_subscriptions WHERE id = $1',
      [subscriptionId],
    );
    expect(rows[0]).toMatchObject({ is_enabled: true, failing_since: expect.any(Date) });
    expect(
      counterValue(await worker.registry.metrics(), 'tidemark_webhook_deliveries_total', {
        outcome: 'gave_up',
      }),
    ).toBe(1);
  });

  it('disables the endpoint at once on 410 Gone', async () => {
    const { id: subscriptionId } = await setup();
    receiver.answer = () => 410;
    const id = await testDelivery(subscriptionId);
    expect(await settled(id)).toMatchObject({ status: 'failed', attempts: 1 });
    const { rows } = await pool.query(
      'SELECT is_enabled, disabled_at, disabled_reason FROM webhook_subscriptions WHERE id = $1',
      [subscriptionId],
    );
    expect(rows[0]).toMatchObject({
      is_enabled: false,
      disabled_at: expect.any(Date),
      disabled_reason: 'the endpoint answered 410 Gone',
    });
  });

  it('redelivers on request with the same webhook-id, outside the schedule', async () => {
    const { id: subscriptionId } = await setup();
    const id = await testDelivery(subscriptionId);
    await settled(id);
    await enqueueRedelivery(deliveryQueue, id);
    await waitFor(async () => ((await attemptsOf(pool, id)).length === 2 ? true : undefined));
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([id, id]);
    expect((await attemptsOf(pool, id)).map((a) => a.manual)).toEqual([false, true]);
    expect(await deliveryState(pool, id)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('sends goal.completed, fires the goal alert once per cooldown and sends alert.triggered', async () => {
    await setup();
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO alerts (site_id, name, trigger, template, cooldown_minutes)
       VALUES ($1, 'Signups', '{"goal_name": "Signup"}',
               '{"subject": "{{goal_name}} on {{site_domain}}", "message": "{{alert_name}} fired"}', 60)
       RETURNING id`,
      [siteId],
    );
    const alertId = rows[0]!.id;
    const first = { siteId, goalName: 'Signup', eventId: randomUUID(), at: new Date().toISOString() };
    await enqueueGoalCompleted(siteEventsQueue, first);
    // A replay of the same completion is the same job: nothing is sent twice.
    await enqueueGoalCompleted(siteEventsQueue, first);
    await waitFor(() => (receiver.requests.length >= 2 ? true : undefined), {
      message: 'the first 2 webhooks',
    });
    // Within the cooldown: goal.completed again, no alert.
    await enqueueGoalCompleted(siteEventsQueue, { ...first, eventId: randomUUID() });
    await waitFor(() => (receiver.requests.length >= 3 ? true : undefined), { message: '3 webhooks' });
    await new Promise((r) => setTimeout(r, 500));
    const bodies = receiver.requests.map((r) => JSON.parse(r.body));
    expect(bodies.filter((b) => b.type === 'goal.completed')).toHaveLength(2);
    const alerts = bodies.filter((b) => b.type === 'alert.triggered');
    expect(alerts).toHaveLength(1);
    const domain = (await pool.query('SELECT domain FROM sites WHERE id = $1', [siteId])).rows[0].domain;
    expect(alerts[0].data).toMatchObject({
      alert_id: alertId,
      alert_name: 'Signups',
      trigger: { goal_name: 'Signup' },
      event_id: first.eventId,
      subject: `Signup on ${domain}`,
      message: 'Signups fired',
      value: null,
      window: null,
    });
    const history = await pool.query('SELECT event_id, subject FROM alert_history WHERE alert_id = $1', [
      alertId,
    ]);
    expect(history.rows).toEqual([{ event_id: first.eventId, subject: `Signup on ${domain}` }]);
  });

  it('fans events out in pageview and event batches to the subscriptions asking for them', async () => {
    await setup(['pageview']);
    const other = await Receiver.start();
    try {
      await createSubscription(pool, siteId, other.url, ['event']);
      const events = Array.from({ length: 150 }, (_, i) => event(i, i < 120 ? 'pageview' : 'signup'));
      await enqueueEventsFanout(siteEventsQueue, { siteId, batchKey: `p0-${randomUUID()}`, events });
      await waitFor(
        () => (receiver.requests.length === 2 && other.requests.length === 1 ? true : undefined),
        {
          message: 'the batches',
        },
      );
      const pageviews = receiver.requests.map((r) => JSON.parse(r.body));
      expect(pageviews.every((b) => b.type === 'pageview' && b.data.site_id === siteId)).toBe(true);
      expect(pageviews.map((b) => b.data.events.length).sort((a, b) => a - b)).toEqual([20, 100]);
      const custom = other.requests.map((r) => JSON.parse(r.body));
      expect(custom.every((b) => b.type === 'event')).toBe(true);
      expect(custom.map((b) => b.data.events.length)).toEqual([30]);
    } finally {
      await other.close();
    }
  });

  it('ends a delivery quietly when its subscription is deleted during the attempt', async () => {
    siteId = await seedSite(pool);
    let subscriptionId = '';
    // Answers only once the subscription, and with it the delivery, is gone.
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        void pool
          .query('DELETE FROM webhook_subscriptions WHERE id = $1', [subscriptionId])
          .then(() => res.end());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      ({ id: subscriptionId } = await createSubscription(pool, siteId, `http://127.0.0.1:${port}/hook`));
      const id = await testDelivery(subscriptionId);
      const job = await waitFor(async () => {
        const j = await deliveryQueue.getJob(id);
        return j?.finishedOn ? j : undefined;
      });
      expect(job.failedReason).toBeUndefined();
      expect(job.returnvalue).toEqual({ skipped: 'delivery no longer exists' });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('sweeps open deliveries whose job was lost back into the queue', async () => {
    const { id: subscriptionId } = await setup();
    // A delivery row whose producer died before enqueueing, overdue by more than the grace.
    const id = await createTestDelivery(pool, subscriptionId);
    await pool.query(
      `UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 hour' WHERE id = $1`,
      [id],
    );
    await deliveryQueue.add('sweep-deliveries', { type: 'sweep-deliveries' });
    expect(await settled(id!)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(counterValue(await worker.registry.metrics(), 'tidemark_webhook_deliveries_requeued_total')).toBe(
      1,
    );
  });
});

function event(i: number, name: string): WebhookEventItem {
  return {
    event_id: randomUUID(),
    name,
    timestamp: new Date(Date.now() - 1_000 + i).toISOString(),
    hostname: 'example.com',
    pathname: `/p/${i}`,
    referrer: '',
    channel: 'Direct',
    utm_source: '',
    utm_medium: '',
    utm_campaign: '',
    utm_content: '',
    utm_term: '',
    country: '',
    region: '',
    city: '',
    device: 'Desktop',
    browser: 'Firefox',
    os: 'Linux',
    props: {},
    revenue: null,
  };
}
