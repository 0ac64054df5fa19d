import { randomUUID } from 'node:crypto';
import type { WebhookEventItem } from '@tidemark/webhooks';
import { describe, expect, it } from 'vitest';
import { alertsJob, siteEventsJob, webhookDeliveryJob } from './jobs';
import {
  enqueueDeliveries,
  enqueueEventsFanout,
  enqueueGoalCompleted,
  enqueueGoalCompletions,
  enqueueRedelivery,
  enqueueThresholdEvaluations,
  queuePrefix,
  type AlertsQueue,
  type SiteEventsQueue,
  type WebhookDeliveryQueue,
} from './queues';

interface Added {
  name: string;
  data: { type: string } & Record<string, unknown>;
  opts: { jobId?: string; attempts?: number; backoff?: unknown; removeOnComplete?: unknown };
}

/** Records what would be added; BullMQ itself is exercised by the worker's integration tests. */
function fakeQueue<Q>() {
  const added: Added[] = [];
  const queue = {
    add: async (name: string, data: Added['data'], opts: Added['opts']) =>
      void added.push({ name, data, opts }),
    addBulk: async (jobs: Added[]) => void added.push(...jobs),
  };
  return { queue: queue as unknown as Q, added };
}

const event = (i: number, name = 'pageview'): WebhookEventItem => ({
  event_id: randomUUID(),
  name,
  timestamp: new Date(Date.UTC(2026, 2, 6, 8, 0, i)).toISOString(),
  hostname: 'example.com',
  pathname: '/',
  referrer: '',
  channel: 'Direct',
  utm_source: '',
  utm_medium: '',
  utm_campaign: '',
  utm_content: '',
  utm_term: '',
  country: 'FR',
  region: '',
  city: '',
  device: 'Desktop',
  browser: 'Firefox',
  os: 'Linux',
  props: {},
  revenue: null,
});

const msgId = `msg_${'ab'.repeat(16)}`;

describe('queue names', () => {
  it('put the prefix in a Redis Cluster hash tag', () => {
    expect(queuePrefix('tidemark')).toBe('{tidemark}');
  });
});

describe('job payloads', () => {
  it('validate each queue as a discriminated union', () => {
    expect(webhookDeliveryJob.parse({ type: 'deliver', deliveryId: msgId })).toEqual({
      type: 'deliver',
      deliveryId: msgId,
      manual: false,
    });
    expect(webhookDeliveryJob.safeParse({ type: 'deliver', deliveryId: 'nope' }).success).toBe(false);
    expect(webhookDeliveryJob.safeParse({ type: 'evaluate-threshold-alerts' }).success).toBe(false);
    expect(
      alertsJob.safeParse({
        type: 'evaluate-threshold-alerts',
        alertId: randomUUID(),
        windowEnd: '2026-03-06T08:00:00.000Z',
      }).success,
    ).toBe(true);
    expect(
      siteEventsJob.safeParse({
        type: 'goal-completed',
        siteId: randomUUID(),
        goalName: 'Signup',
        eventId: randomUUID(),
        at: '2026-03-06T08:00:00.000Z',
      }).success,
    ).toBe(true);
    expect(
      siteEventsJob.safeParse({
        type: 'fanout-events',
        siteId: randomUUID(),
        batchKey: 'p0-10-20',
        events: Array.from({ length: 101 }, (_, i) => event(i)),
      }).success,
    ).toBe(false);
  });
});

describe('enqueue helpers', () => {
  it('use the delivery id as job id, with explicit attempts, backoff and retention', async () => {
    const { queue, added } = fakeQueue<WebhookDeliveryQueue>();
    await enqueueDeliveries(queue, [msgId]);
    await enqueueDeliveries(queue, []);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({
      name: 'deliver',
      data: { type: 'deliver', deliveryId: msgId },
      opts: { jobId: msgId, attempts: 5, backoff: { type: 'exponential', delay: 10_000 } },
    });
    expect(added[0]!.opts.removeOnComplete).toEqual({ age: 86_400, count: 10_000 });
  });

  it('give each redelivery its own job, idempotent per request', async () => {
    const { queue, added } = fakeQueue<WebhookDeliveryQueue>();
    await enqueueRedelivery(queue, msgId, 'req:1');
    expect(added[0]).toMatchObject({
      data: { type: 'deliver', deliveryId: msgId, manual: true },
      opts: { jobId: `redeliver_${msgId}_req_1` },
    });
  });

  it('key goal completions by event and goal, without colons', async () => {
    const { queue, added } = fakeQueue<SiteEventsQueue>();
    const goal = {
      siteId: randomUUID(),
      goalName: 'Plan: Pro',
      eventId: randomUUID(),
      at: '2026-03-06T08:00:00.000Z',
    };
    await enqueueGoalCompleted(queue, goal);
    await enqueueGoalCompleted(queue, { ...goal, goalName: 'Other' });
    expect(added[0]!.data).toEqual({ type: 'goal-completed', ...goal });
    expect(added[0]!.opts.jobId).toMatch(new RegExp(`^goal_${goal.eventId}_[0-9a-f]{16}$`));
    expect(added[1]!.opts.jobId).not.toBe(added[0]!.opts.jobId);
    await enqueueGoalCompletions(queue, [goal, { ...goal, goalName: 'Other' }]);
    expect(added.slice(2).map((a) => a.opts.jobId)).toEqual(added.slice(0, 2).map((a) => a.opts.jobId));
  });

  it('split event fan-out in jobs of 100 events keyed by batch', async () => {
    const { queue, added } = fakeQueue<SiteEventsQueue>();
    const siteId = randomUUID();
    const events = Array.from({ length: 250 }, (_, i) => event(i, i % 2 ? 'pageview' : 'signup'));
    await enqueueEventsFanout(queue, { siteId, batchKey: 'p3-100-349', events });
    expect(added.map((a) => (a.data.events as unknown[]).length)).toEqual([100, 100, 50]);
    expect(added.map((a) => a.opts.jobId)).toEqual([
      `fanout_${siteId}_p3-100-349.0`,
      `fanout_${siteId}_p3-100-349.1`,
      `fanout_${siteId}_p3-100-349.2`,
    ]);
    for (const a of added) expect(siteEventsJob.safeParse(a.data).success).toBe(true);
  });

  it('key threshold evaluations by alert and window end', async () => {
    const { queue, added } = fakeQueue<AlertsQueue>();
    const alertId = randomUUID();
    const windowEnd = new Date('2026-03-06T08:01:00.000Z');
    await enqueueThresholdEvaluations(queue, [alertId], windowEnd);
    expect(added[0]).toMatchObject({
      data: { type: 'evaluate-threshold-alerts', alertId, windowEnd: '2026-03-06T08:01:00.000Z' },
      opts: { jobId: `eval_${alertId}_${windowEnd.getTime()}` },
    });
  });
});
