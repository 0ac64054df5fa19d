import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Pool, PoolClient } from '@tidemark/db';
import type { Logger } from '@tidemark/logging';
import { enqueueDelivery, type WebhookDeliveryJob, type WebhookDeliveryQueue } from '@tidemark/queues';
import {
  nextRetryDelay,
  serializePayload,
  signWebhook,
  type WebhookHttpClient,
  type WebhookResponse,
} from '@tidemark/webhooks';
import {
  disableEndpoint,
  inTransaction,
  loadDelivery,
  markFailed,
  markRetrying,
  noteEndpointFailure,
  overdueDeliveries,
  pruneDeliveries,
  recordAttempt,
  type DeliveryRow,
} from './deliveries.repository';
import type { WorkerMetrics } from './metrics';

export interface DeliveryDeps {
  pool: Pool;
  http: WebhookHttpClient;
  queue: WebhookDeliveryQueue;
  metrics: WorkerMetrics;
  logger: Logger;
  retryScheduleMs: readonly number[];
  disableAfterMs: number;
  sweepGraceMs: number;
  retentionMs: number;
}

type Deliver = Extract<WebhookDeliveryJob, { type: 'deliver' }>;

/** Where a delivery stands once its attempt is recorded. */
type Outcome =
  | { kind: 'succeeded' }
  | { kind: 'gone' }
  | { kind: 'retrying'; at: Date }
  | { kind: 'failed'; reason: string; metric: 'gave_up' | 'endpoint_disabled' | 'manual_failed' };

/**
 * One attempt of a delivery. The row is the state: a job re-run (retry, stalled job taken over from
 * a dead worker) reads where the delivery stands and carries on. The `webhook-id` is the row's id,
 * so every attempt, re-runs included, carries the same one.
 */
export async function processDelivery(
  deps: DeliveryDeps,
  job: Job,
  token: string | undefined,
  data: Deliver,
) {
  const { pool, metrics } = deps;
  const delivery = await loadDelivery(pool, data.deliveryId);
  if (!delivery) {
    metrics.deliveries.inc({ outcome: 'skipped' });
    return { skipped: 'delivery no longer exists' };
  }
  const finished = delivery.status === 'succeeded' || delivery.status === 'failed';
  if (!data.manual && finished) {
    metrics.deliveries.inc({ outcome: 'skipped' });
    return { skipped: `already ${delivery.status}` };
  }
  // A previous run recorded a failed attempt but died before delaying the job: wait as decided then.
  if (!data.manual && delivery.next_attempt_at && delivery.next_attempt_at.getTime() > Date.now() + 1_000) {
    await job.moveToDelayed(delivery.next_attempt_at.getTime(), token);
    throw new DelayedError();
  }
  // A user's redelivery or test goes out even to a disabled endpoint; scheduled traffic does not.
  const explicit = data.manual || delivery.is_test;
  if (!delivery.subscription_enabled && !explicit) {
    await markFailed(pool, delivery.id, 'endpoint disabled');
    metrics.deliveries.inc({ outcome: 'skipped' });
    throw new UnrecoverableError('endpoint disabled');
  }

  const body = serializePayload(delivery.payload);
  const headers = signWebhook({ secret: delivery.secret, id: delivery.id, body });
  const res = await deps.http.post(delivery.url, { ...headers }, body);
  metrics.attemptSeconds.observe({ result: res.ok ? 'ok' : 'failed' }, res.latencyMs / 1_000);

  // A success is settled by the statement that records it; a failure is recorded in a transaction
  // that also takes the decision (retry, give up, disable the endpoint).
  let outcome: Outcome;
  if (res.ok) {
    const attempt = await recordAttempt(pool, delivery, res, data.manual);
    outcome = attempt === null ? { kind: 'gone' } : { kind: 'succeeded' };
  } else {
    outcome = await inTransaction(pool, (tx) => settleFailedAttempt(deps, tx, delivery, res, data.manual));
  }

  switch (outcome.kind) {
    case 'succeeded':
      metrics.deliveries.inc({ outcome: 'succeeded' });
      return { statusCode: res.statusCode };
    case 'gone':
      metrics.deliveries.inc({ outcome: 'skipped' });
      return { skipped: 'delivery no longer exists' };
    case 'retrying':
      metrics.deliveries.inc({ outcome: 'retrying' });
      deps.logger.debug(
        { deliveryId: delivery.id, error: describeFailure(res), nextAttemptAt: outcome.at },
        'webhook attempt failed, retrying',
      );
      // Same job, same delivery id: only its time changes. Not counted as a BullMQ attempt, which
      // stay reserved for the processor itself failing.
      await job.moveToDelayed(outcome.at.getTime(), token);
      throw new DelayedError();
    case 'failed':
      metrics.deliveries.inc({ outcome: outcome.metric });
      throw new UnrecoverableError(`delivery ${delivery.id} failed: ${outcome.reason}`);
  }
}

async function settleFailedAttempt(
  deps: DeliveryDeps,
  tx: PoolClient,
  delivery: DeliveryRow,
  res: WebhookResponse,
  manual: boolean,
): Promise<Outcome> {
  const attempt = await recordAttempt(tx, delivery, res, manual);
  if (attempt === null) return { kind: 'gone' };
  if (res.statusCode === 410) {
    await disableEndpoint(tx, delivery.subscription_id, 'the endpoint answered 410 Gone');
    await markFailed(tx, delivery.id);
    return { kind: 'failed', reason: '410 Gone: endpoint disabled', metric: 'endpoint_disabled' };
  }
  const disabledNow = await noteEndpointFailure(tx, delivery.subscription_id, deps.disableAfterMs);
  if (manual) {
    // A redelivery is one more try; it does not reopen or end the delivery's own schedule.
    return { kind: 'failed', reason: describeFailure(res), metric: 'manual_failed' };
  }
  if (disabledNow || !delivery.subscription_enabled) {
    await markFailed(tx, delivery.id);
    return {
      kind: 'failed',
      reason: `${describeFailure(res)}; endpoint disabled`,
      metric: 'endpoint_disabled',
    };
  }
  const delay = nextRetryDelay({
    attemptsMade: attempt,
    schedule: deps.retryScheduleMs,
    retryAfterMs: res.retryAfterMs,
  });
  if (delay === null) {
    await markFailed(tx, delivery.id);
    return { kind: 'failed', reason: `${describeFailure(res)}; retries used up`, metric: 'gave_up' };
  }
  const at = new Date(Date.now() + delay);
  await markRetrying(tx, delivery.id, at);
  return { kind: 'retrying', at };
}

function describeFailure(res: WebhookResponse): string {
  return res.error ?? `HTTP ${res.statusCode}`;
}

/**
 * Safety net for at-least-once delivery: an open delivery whose job is gone (the process that
 * created the row died before enqueueing, the job failed on infrastructure errors, or stalled too
 * often) is enqueued again. Also prunes finished deliveries past retention.
 */
export async function sweepDeliveries(deps: DeliveryDeps) {
  let requeued = 0;
  for (const id of await overdueDeliveries(deps.pool, deps.sweepGraceMs)) {
    const state = await deps.queue.getJobState(id);
    if (['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'].includes(state)) continue;
    // A finished job keeps its id taken; remove it so the delivery can be enqueued again.
    if (state !== 'unknown') await deps.queue.remove(id);
    await enqueueDelivery(deps.queue, id);
    requeued++;
  }
  deps.metrics.requeuedDeliveries.inc(requeued);
  const pruned = await pruneDeliveries(deps.pool, deps.retentionMs);
  if (requeued > 0 || pruned > 0) deps.logger.info({ requeued, pruned }, 'swept webhook deliveries');
  return { requeued, pruned };
}
