import { randomUUID } from 'node:crypto';
import type { Pool } from '@tidemark/db';
import { createWebhookDeliveryQueue, enqueueDelivery, type WebhookDeliveryQueue } from '@tidemark/queues';
import { createEventDeliveries, createTestDelivery } from '@tidemark/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, waitFor } from '../../../test/support/stack';
import {
  Receiver,
  attemptsOf,
  createSubscription,
  deliveryState,
  newPool,
  seedSite,
  startInProcess,
  workerEnv,
  type InProcessWorker,
} from './int-support';

let pool: Pool;
let worker: InProcessWorker;
let queue: WebhookDeliveryQueue;

beforeAll(async () => {
  const url = await freshPostgres();
  pool = newPool(url);
  // The schedule outlasts WEBHOOK_DISABLE_AFTER, as the defaults' 28 h of retries do not (5 days).
  const env = workerEnv(url, {
    WEBHOOK_RETRY_SCHEDULE: Array(20).fill('250ms').join(','),
    WEBHOOK_DISABLE_AFTER: '1s',
  });
  worker = await startInProcess(env, pool);
  queue = createWebhookDeliveryQueue({ url: env.REDIS_URL!, prefix: env.REDIS_PREFIX! });
});

afterAll(async () => {
  await worker?.stop();
  await queue?.close();
  await pool?.end();
});

describe('an endpoint that stays down', () => {
  it('is disabled once it has failed for WEBHOOK_DISABLE_AFTER, and its other deliveries stop', async () => {
    const down = await Receiver.start();
    const url = down.url;
    await down.close();
    const siteId = await seedSite(pool);
    const { id: subscriptionId } = await createSubscription(pool, siteId, url);
    const [queued] = await createEventDeliveries(pool, {
      siteId,
      type: 'goal.completed',
      timestamp: new Date().toISOString(),
      data: { goal_name: 'Signup' },
      dedupeKey: `goal:${randomUUID()}`,
    });

    const id = (await createTestDelivery(pool, subscriptionId))!;
    await enqueueDelivery(queue, id);
    const state = await waitFor(
      async () => {
        const s = await deliveryState(pool, id);
        return s.status === 'failed' ? s : undefined;
      },
      { message: 'the delivery to fail' },
    );
    // About 1 s of attempts 250 ms apart, far from the 21 the schedule allows.
    expect(state.attempts).toBeGreaterThanOrEqual(3);
    expect(state.attempts).toBeLessThanOrEqual(10);
    const attempts = await attemptsOf(pool, id);
    expect(attempts.every((a) => a.status_code === null && /ECONNREFUSED/.test(a.error ?? ''))).toBe(true);
    const { rows } = await pool.query(
      'SELECT is_enabled, disabled_at, disabled_reason FROM webhook_subscriptions WHERE id = $1',
      [subscriptionId],
    );
    expect(rows[0]).toMatchObject({ is_enabled: false, disabled_at: expect.any(Date) });
    expect(rows[0].disabled_reason).toMatch(/^every attempt failed since \d{4}-\d\d-\d\dT/);

    // A delivery created before the endpoint was disabled is not attempted any more.
    await enqueueDelivery(queue, queued!);
    await waitFor(async () => ((await deliveryState(pool, queued!)).status === 'failed' ? true : undefined));
    expect(await deliveryState(pool, queued!)).toMatchObject({
      attempts: 0,
      last_error: 'endpoint disabled',
    });
  });
});
