import Fastify from 'fastify';
import { Worker } from 'bullmq';
import { bullOptions, createWebhookDeliveryQueue, type WebhookDeliveryQueue } from '@tidemark/queues';
import { registerOpsRoutes } from '@tidemark/runtime';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackEnv, uniqueSuffix, waitFor } from '../../../test/support/stack';
import { queueHealth } from './queue-health';

const conn = () => ({ url: stackEnv().REDIS_URL, prefix: `${stackEnv().REDIS_PREFIX}-h${uniqueSuffix()}` });
let queue: WebhookDeliveryQueue;
let connection: ReturnType<typeof conn>;
const app = Fastify();
const registry = new Registry();

beforeAll(async () => {
  connection = conn();
  queue = createWebhookDeliveryQueue(connection);
  const health = queueHealth([queue], registry, 300);
  registerOpsRoutes(app, {
    components: () => [health],
    registry,
    isShuttingDown: () => false,
  });
});

afterAll(async () => {
  await app.close();
  await queue?.obliterate({ force: true });
  await queue?.close();
});

const msg = (n: number) => `msg_${String(n).padStart(32, '0')}`;

describe('queue readiness and gauges', () => {
  it('fails /readyz naming queues when a job waits with no worker taking jobs', async () => {
    await queue.add('deliver', { type: 'deliver', deliveryId: msg(1) }, { jobId: msg(1) });
    await new Promise((r) => setTimeout(r, 400));
    const res = await app.inject({ url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.message).toMatch(
      /^dependency not ready: queues: webhook-delivery: a job has waited \d+ s, none active$/,
    );
    const metrics = await registry.metrics();
    expect(metrics).toContain('tidemark_queue_jobs{queue="webhook-delivery",state="waiting"} 1');
    expect(metrics).toMatch(/tidemark_queue_oldest_waiting_seconds\{queue="webhook-delivery"\} 0\.[3-9]/);
  });

  it('stays ready with a backlog while a worker is busy', async () => {
    await queue.add('deliver', { type: 'deliver', deliveryId: msg(2) }, { jobId: msg(2) });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const worker = new Worker(queue.name, () => held, {
      ...bullOptions(connection, { maxRetriesPerRequest: null }),
      concurrency: 1,
    });
    try {
      await waitFor(async () => ((await queue.getJobCounts('active')).active === 1 ? true : undefined));
      await new Promise((r) => setTimeout(r, 400));
      const res = await app.inject({ url: '/readyz' });
      expect(res.statusCode, res.body).toBe(200);
    } finally {
      release();
      await worker.close();
    }
  });
});
