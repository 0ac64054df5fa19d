import type { Pool } from '@tidemark/db';
import { createWebhookDeliveryQueue, enqueueDelivery, type WebhookDeliveryQueue } from '@tidemark/queues';
import { createTestDelivery } from '@tidemark/webhooks';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, waitFor } from '../../../test/support/stack';
import {
  Receiver,
  attemptsOf,
  createSubscription,
  deliveryState,
  newPool,
  seedSite,
  spawnWorker,
  workerEnv,
  type WorkerProcess,
} from './int-support';

let pool: Pool;
let env: Record<string, string>;
let queue: WebhookDeliveryQueue;
let receiver: Receiver;
const processes: WorkerProcess[] = [];

beforeAll(async () => {
  const url = await freshPostgres();
  pool = newPool(url);
  // A long attempt timeout: the first worker must still be waiting on the receiver when it dies.
  env = workerEnv(url, { WEBHOOK_TIMEOUT: '60s' });
  queue = createWebhookDeliveryQueue({ url: env.REDIS_URL!, prefix: env.REDIS_PREFIX! });
  receiver = await Receiver.start();
});

afterAll(async () => {
  for (const p of processes) await p.kill();
  await receiver?.close();
  await queue?.close();
  await pool?.end();
});

describe('a worker process killed mid-delivery', () => {
  it('leaves the delivery to another process, which sends it with the same webhook-id', async () => {
    const siteId = await seedSite(pool);
    const { id: subscriptionId, secret } = await createSubscription(pool, siteId, receiver.url);
    // The first request is held open until its sender dies; later ones succeed.
    receiver.answer = (_req, i) => (i === 0 ? 'hold' : 200);

    const first = await spawnWorker(env);
    processes.push(first);
    const id = (await createTestDelivery(pool, subscriptionId))!;
    await enqueueDelivery(queue, id);
    await waitFor(() => (receiver.requests.length === 1 ? true : undefined), {
      message: 'the first attempt',
    });

    await first.kill();
    expect(first.child.signalCode).toBe('SIGKILL');
    expect(await deliveryState(pool, id)).toMatchObject({ status: 'pending', attempts: 0 });

    const second = await spawnWorker(env);
    processes.push(second);
    const state = await waitFor(
      async () => {
        const s = await deliveryState(pool, id);
        return s.status === 'succeeded' ? s : undefined;
      },
      { timeout: 30_000, message: 'the second worker to deliver' },
    );
    expect(state.attempts).toBe(1);
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([id, id]);
    const last = receiver.requests[1]!;
    expect(() =>
      new Webhook(secret).verify(last.body, {
        'webhook-id': String(last.headers['webhook-id']),
        'webhook-timestamp': String(last.headers['webhook-timestamp']),
        'webhook-signature': String(last.headers['webhook-signature']),
      }),
    ).not.toThrow();
    expect((await attemptsOf(pool, id)).map((a) => a.status_code)).toEqual([200]);

    // A graceful stop exits cleanly.
    await second.stop();
    expect(second.child.exitCode).toBe(0);
  });
});
