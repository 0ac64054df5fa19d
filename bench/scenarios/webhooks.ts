import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool as HttpPool } from 'undici';
import { createClickHouse, type ClickHouse } from '@tidemark/clickhouse';
import { createPool, type Pool } from '@tidemark/db';
import {
  createSiteEventsQueue,
  createWebhookDeliveryQueue,
  enqueueDeliveries,
  type WebhookDeliveryQueue,
} from '@tidemark/queues';
import {
  createEventDeliveries,
  generateWebhookSecret,
  toWebhookEventItem,
  type EventBatchData,
} from '@tidemark/webhooks';
import { loadConfig as loadWorkerConfig } from '../../services/worker/src/config';
import { uniqueSuffix } from '../../test/support/names';
import { CpuSampler, describeCpu } from '../lib/cpu';
import { enrichedEvents, trackerEvent, userAgent, visitorIp } from '../lib/events';
import { WebhookReceiver } from '../lib/receiver';
import {
  scrapeMetric,
  startConsumer,
  startIngest,
  startWorker,
  stopAll,
  type ServiceProcess,
} from '../lib/services';
import { seedSite, startBenchStack } from '../lib/stack';
import { percentile, pollUntil, round } from '../lib/stats';
import { VisibilityPoller, type VisibilityProbe } from '../lib/visibility';
import type { Scenario } from '../run';

/** Deliveries for the throughput run: BATCHES_FOR_THROUGHPUT pageview batches × SUBSCRIPTIONS subscriptions. */
const SUBSCRIPTIONS = 4;
const BATCHES_FOR_THROUGHPUT = 2_000;
const EVENTS_PER_DELIVERY = 10;
const THROUGHPUT_TIMEOUT_MS = 60_000;
/** The latency run: goal-completing events through ingest at this rate for this long. */
const LATENCY_RATE = 100;
const LATENCY_SECONDS = 20;
const WARMUP_SECONDS = 3;
const LATENCY_DRAIN_MS = 20_000;
const GOAL_EVENT = 'bench_goal';
/** Every PROBE_EVERY-th latency event is also watched for in ClickHouse, to split the consumer's part. */
const PROBE_EVERY = 5;

interface Delivered {
  eventId: string;
  ackAt: number;
  /** When a ClickHouse query first returned the event. */
  visibleAt: number;
  receivedAt: number;
  deliveryId: string;
}

/**
 * Splits end-to-end latency of the probed events at the event becoming readable in ClickHouse and at
 * the BullMQ job timestamps: the consumer enqueuing the goal-completed job, the worker picking it up
 * and finishing it (delivery rows made and enqueued), the delivery job being picked up, and the
 * webhook arriving.
 */
async function latencyStages(
  env: Record<string, string>,
  deliveryQueue: WebhookDeliveryQueue,
  delivered: Delivered[],
): Promise<{ sampled: number; text: string }> {
  const siteEvents = createSiteEventsQueue({ url: env.REDIS_URL!, prefix: env.REDIS_PREFIX! });
  try {
    const goalJobs = new Map<string, { timestamp: number; processedOn?: number; finishedOn?: number }>();
    for (const job of await siteEvents.getJobs(['completed'], 0, -1)) {
      if (job.data.type === 'goal-completed') goalJobs.set(job.data.eventId, job);
    }
    const spans: Record<string, number[]> = {
      'ingest 202 → readable in ClickHouse (Kafka, consumer fetch, insert; 100 ms polls)': [],
      'readable → goal job enqueued (consumer notify; below 0 when enqueued before a poll saw the row)': [],
      'goal job waiting': [],
      'goal job running (delivery rows made and enqueued)': [],
      'delivery job waiting': [],
      'delivery job start → webhook received': [],
    };
    const [v, a, b, c, d, e] = Object.values(spans) as [
      number[],
      number[],
      number[],
      number[],
      number[],
      number[],
    ];
    let sampled = 0;
    for (const x of delivered) {
      const goal = goalJobs.get(x.eventId);
      const delivery = await deliveryQueue.getJob(x.deliveryId);
      if (!goal?.processedOn || !goal.finishedOn || !delivery?.processedOn) continue;
      sampled++;
      v.push(x.visibleAt - x.ackAt);
      a.push(goal.timestamp - x.visibleAt);
      b.push(goal.processedOn - goal.timestamp);
      c.push(goal.finishedOn - goal.processedOn);
      d.push(delivery.processedOn - delivery.timestamp);
      e.push(x.receivedAt - delivery.processedOn);
    }
    const text = Object.entries(spans)
      .map(([name, v]) => `${name} ${percentile(v, 50)} / ${percentile(v, 99)}`)
      .join('; ');
    return { sampled, text };
  } finally {
    await siteEvents.close();
  }
}

async function subscribe(pool: Pool, siteId: string, url: string, events: string[]): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO webhook_subscriptions (site_id, url, events, secret) VALUES ($1, $2, $3, $4) RETURNING id`,
    [siteId, url, events, generateWebhookSecret()],
  );
  return rows[0]!.id;
}

/**
 * One real worker process delivering signed webhooks to a local receiver. Throughput: pending
 * deliveries made and enqueued with the libs' own functions, timed until the receiver has seen
 * every webhook-id. Latency: goal-completing events through real ingest and consumer processes at
 * 100/s, from each event's 202 to the receipt of its `goal.completed` webhook. Targets from
 * issue 7: ≥ 1,000 deliveries/s per worker process; p99 < 3 s at 100/s.
 */
export const webhooks: Scenario = {
  name: 'webhooks',
  description:
    'worker service: signed webhook deliveries/s to a local receiver, and ingest 202 → goal.completed webhook received at 100 events/s (real ingest + consumer + worker)',
  async run() {
    const stack = await startBenchStack();
    const running: ServiceProcess[] = [];
    const pool = createPool(stack.env.DATABASE_URL!, { max: 8 });
    let queue: WebhookDeliveryQueue | undefined;
    let receiver: WebhookReceiver | undefined;
    let http: HttpPool | undefined;
    let clickhouse: ClickHouse | undefined;
    let poller: VisibilityPoller<VisibilityProbe> | undefined;
    try {
      receiver = await WebhookReceiver.start();
      const site = await seedSite(stack.env.DATABASE_URL!);
      const workerEnv = { ...stack.env, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' };
      const concurrency = loadWorkerConfig({
        ...process.env,
        ...workerEnv,
      }).WORKER_CONCURRENCY_WEBHOOK_DELIVERY;
      const worker = await startWorker(workerEnv);
      running.push(worker);
      queue = createWebhookDeliveryQueue({ url: stack.env.REDIS_URL!, prefix: stack.env.REDIS_PREFIX! });

      // Throughput. Subscriptions to `pageview` only, so the later goal run adds nothing to them.
      for (let s = 0; s < SUBSCRIPTIONS; s++) {
        await subscribe(pool, site.siteId, `${receiver.origin}/hook/${s}`, ['pageview']);
      }
      const events = enrichedEvents({ sites: [site.siteId] });
      const ids: string[] = [];
      const makeDeliveries = async (e: number) => {
        const items = Array.from({ length: EVENTS_PER_DELIVERY }, () =>
          toWebhookEventItem(events.next().value!),
        );
        const data: EventBatchData = { site_id: site.siteId, events: items };
        // As the worker's fan-out makes them: one delivery per subscription, deduplicated per batch.
        ids.push(
          ...(await createEventDeliveries(pool, {
            siteId: site.siteId,
            type: 'pageview',
            timestamp: items.at(-1)!.timestamp,
            data,
            dedupeKey: `batch:bench-${e}:pageview`,
          })),
        );
      };
      for (let e = 0; e < BATCHES_FOR_THROUGHPUT; e += 8) {
        await Promise.all(
          Array.from({ length: Math.min(8, BATCHES_FOR_THROUGHPUT - e) }, (_, i) => makeDeliveries(e + i)),
        );
      }
      const total = ids.length;
      if (total !== BATCHES_FOR_THROUGHPUT * SUBSCRIPTIONS) throw new Error(`made ${total} deliveries`);

      const cpu = new CpuSampler([
        ...stack.processes,
        { name: 'worker', pid: worker.child.pid! },
        { name: 'bench (receiver)', pid: process.pid, tree: false },
      ]);
      const started = Date.now();
      for (let i = 0; i < ids.length; i += 500) await enqueueDeliveries(queue, ids.slice(i, i + 500));
      const enqueuedMs = Date.now() - started;
      let finished = true;
      await pollUntil(() => (receiver!.firstSeen.size >= total ? true : undefined), {
        timeoutMs: THROUGHPUT_TIMEOUT_MS,
        intervalMs: 50,
        what: `${total} webhooks at the receiver`,
      }).catch(() => {
        finished = false;
      });
      const received = ids.filter((id) => receiver!.firstSeen.has(id)).length;
      const lastAt = Math.max(...ids.map((id) => receiver!.firstSeen.get(id) ?? 0));
      const seconds = ((finished ? lastAt : Date.now()) - started) / 1000;
      const throughputCpu = cpu.stop();
      // Received is not done: the worker records the attempt after the answer. Wait for the rows.
      const succeeded = await pollUntil(
        async () => {
          const { rows } = await pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM webhook_deliveries WHERE id = ANY($1) AND status = 'succeeded'`,
            [ids],
          );
          return rows[0]!.n >= received ? rows[0]!.n : undefined;
        },
        { timeoutMs: 15_000, what: 'deliveries marked succeeded' },
      ).catch(() => -1);
      const requestsBeforeLatency = receiver.requests;
      const duplicates = requestsBeforeLatency - receiver.firstSeen.size;

      // Latency, end to end: ingest → Kafka → consumer (ClickHouse, then the goal-completed job) →
      // worker (deliveries for the goal.completed subscription) → receiver.
      await pool.query(`INSERT INTO goals (site_id, name, event_name) VALUES ($1, 'Bench goal', $2)`, [
        site.siteId,
        GOAL_EVENT,
      ]);
      await subscribe(pool, site.siteId, `${receiver.origin}/goal`, ['goal.completed']);
      const deliveredAt = new Map<string, { at: number; deliveryId: string }>();
      receiver.onFirst = (webhook) => {
        if (!webhook.path.startsWith('/goal')) return;
        const payload = JSON.parse(webhook.body) as { data?: { event_id?: string } };
        if (payload.data?.event_id)
          deliveredAt.set(payload.data.event_id, { at: webhook.at, deliveryId: webhook.id });
      };
      const consumer = await startConsumer(stack.env, {
        CONSUMER_GROUP_ID: `bench-webhooks-${uniqueSuffix()}`,
      });
      running.push(consumer);
      const ingest = await startIngest(stack.env, { TRUST_PROXY: '127.0.0.1' });
      running.push(ingest);
      http = new HttpPool(ingest.match[1]!, { connections: 16 });
      clickhouse = createClickHouse({
        url: stack.env.CLICKHOUSE_URL!,
        database: stack.env.CLICKHOUSE_DATABASE!,
      });
      poller = new VisibilityPoller(clickhouse, site.siteId, new Date(Date.now() - 60_000));
      const probes = new Map<string, VisibilityProbe>();
      const latencyCpu = new CpuSampler([
        ...stack.processes,
        { name: 'worker', pid: worker.child.pid! },
        { name: 'consumer', pid: consumer.child.pid! },
        { name: 'ingest', pid: ingest.child.pid! },
        { name: 'bench (sender, receiver)', pid: process.pid, tree: false },
      ]);
      const acked = new Map<string, { at: number; offset: number }>();
      let refused = 0;
      const sends: Array<Promise<void>> = [];
      const latencyStart = Date.now();
      for (let k = 0; k < LATENCY_RATE * LATENCY_SECONDS; k++) {
        const due = latencyStart + (k * 1000) / LATENCY_RATE;
        if (due > Date.now()) await sleep(due - Date.now());
        const eventId = randomUUID();
        const offset = (Date.now() - latencyStart) / 1000;
        const body = JSON.stringify({ ...trackerEvent(site.siteKey, k, eventId), name: GOAL_EVENT });
        sends.push(
          http
            .request({
              path: '/api/v1/track',
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'user-agent': userAgent(k),
                'x-forwarded-for': visitorIp(k),
              },
              body,
            })
            .then(async (res) => {
              await res.body.dump();
              if (res.statusCode !== 202) {
                refused++;
                return;
              }
              acked.set(eventId, { at: Date.now(), offset });
              if (k % PROBE_EVERY === 0) {
                const probe = { id: eventId };
                probes.set(eventId, probe);
                poller!.add(probe);
              }
            })
            .catch(() => {
              refused++;
            }),
        );
      }
      await Promise.all(sends);
      const counted = [...acked].filter(([, a]) => a.offset >= WARMUP_SECONDS);
      await pollUntil(() => (counted.every(([id]) => deliveredAt.has(id)) ? true : undefined), {
        timeoutMs: LATENCY_DRAIN_MS,
        intervalMs: 100,
        what: 'every goal.completed webhook',
      }).catch(() => {});
      const latencyUse = latencyCpu.stop();
      const latencies = counted.flatMap(([id, a]) => {
        const d = deliveredAt.get(id);
        return d === undefined ? [] : [d.at - a.at];
      });
      const stages = await latencyStages(
        stack.env,
        queue,
        counted.flatMap(([id, a]) => {
          const d = deliveredAt.get(id);
          const visibleAt = probes.get(id)?.visibleAt;
          return d && visibleAt
            ? [{ eventId: id, ackAt: a.at, visibleAt, receivedAt: d.at, deliveryId: d.deliveryId }]
            : [];
        }),
      );
      const attempts = await scrapeMetric(worker.opsUrl!, 'tidemark_webhook_attempt_seconds_count');
      const attemptSeconds = await scrapeMetric(worker.opsUrl!, 'tidemark_webhook_attempt_seconds_sum');
      const missing = counted.length - latencies.length;
      const workerFailures = await scrapeMetric(worker.opsUrl!, 'tidemark_worker_jobs_total', {
        result: 'failed',
      }).catch(() => Number.NaN);

      const figures = {
        deliveries: total,
        delivered: received,
        deliveries_per_second: Math.round(received / seconds),
        throughput_seconds: round(seconds, 2),
        enqueue_ms: enqueuedMs,
        marked_succeeded: succeeded,
        duplicate_requests: duplicates,
        latency_events: latencies.length,
        latency_p50_ms: percentile(latencies, 50),
        latency_p99_ms: percentile(latencies, 99),
        latency_max_ms: percentile(latencies, 100),
        latency_missing: missing,
        latency_refused_by_ingest: refused,
      };
      const targets = {
        deliveries_per_second_min: 1_000,
        latency_p99_ms_max: 3_000,
        latency_missing: 0,
      };
      const notes = [
        `Throughput: ${total} pending \`pageview\` deliveries (${BATCHES_FOR_THROUGHPUT} batches of ${EVENTS_PER_DELIVERY} events × ${SUBSCRIPTIONS} subscriptions to one receiver in the bench process) made with \`createEventDeliveries\`, enqueued with \`enqueueDeliveries\` (500 per call, ${enqueuedMs} ms in all) into an idle worker with its shipped defaults (WORKER_CONCURRENCY_WEBHOOK_DELIVERY ${concurrency}); timed from the first enqueue to the first receipt of the last webhook-id.${finished ? '' : ` Not every delivery arrived within ${THROUGHPUT_TIMEOUT_MS / 1000} s; the rate is over that window.`}`,
        `With ${concurrency} delivery jobs at a time, ${figures.deliveries_per_second}/s means ${Math.round((concurrency / Math.max(1, figures.deliveries_per_second)) * 1000)} ms per delivery (Little's law), of which the HTTP attempt took ${round((attemptSeconds / Math.max(1, attempts)) * 1000, 1)} ms on average (over every attempt of the run); the rest is the job outside its HTTP attempt (PostgreSQL reads and writes, BullMQ's Redis calls, waiting for a CPU).`,
        `Throughput CPU: ${describeCpu(throughputCpu)}`,
        `Latency: end to end through real ingest, consumer and worker processes (the consumer's goal-completed path): ${LATENCY_RATE} single events/s named \`${GOAL_EVENT}\` to \`/api/v1/track\` for ${LATENCY_SECONDS} s, each completing the site's goal; from each 202 to the receipt of the \`goal.completed\` webhook carrying its event_id; events of the first ${WARMUP_SECONDS} s not counted; worker job failures so far: ${workerFailures}.`,
        `Where the time goes (p50 / p99 in ms, over the ${stages.sampled} counted events of the 1 in ${PROBE_EVERY} also polled for in ClickHouse): ${stages.text}.`,
        `Latency CPU: ${describeCpu(latencyUse)}`,
      ];
      return {
        figures,
        ratios: {
          throughput_vs_target: round(figures.deliveries_per_second / targets.deliveries_per_second_min, 3),
        },
        targets,
        targets_met:
          finished &&
          figures.deliveries_per_second >= targets.deliveries_per_second_min &&
          missing === 0 &&
          latencies.length > 0 &&
          figures.latency_p99_ms < targets.latency_p99_ms_max,
        notes: notes.join('\n\n'),
      };
    } finally {
      await poller?.stop();
      await clickhouse?.close();
      await http?.close();
      await stopAll(running);
      await queue?.close();
      await receiver?.close();
      await pool.end();
      await stack.stop();
    }
  },
};
