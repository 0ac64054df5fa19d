import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import {
  refreshClosedMonthSummaries,
  refreshDimensionDays,
  SUMMARY_REFRESH_LOCK_ID,
  type ClickHouse,
} from '@tidemark/clickhouse';
import { withAdvisoryLock, type Pool } from '@tidemark/db';
import type { Logger } from '@tidemark/logging';
import {
  QUEUE_NAMES,
  alertsJob,
  bullOptions,
  createAlertsQueue,
  createMaintenanceQueue,
  createSiteEventsQueue,
  createWebhookDeliveryQueue,
  maintenanceJob,
  siteEventsJob,
  upsertSchedules,
  webhookDeliveryJob,
  type QueueName,
} from '@tidemark/queues';
import type { Component } from '@tidemark/runtime';
import type { WebhookHttpClient } from '@tidemark/webhooks';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { evaluateThresholdAlert, scheduleThresholdAlerts, type AlertDeps } from './alerts.processor';
import type { WorkerConfig } from './config';
import { processDelivery, sweepDeliveries, type DeliveryDeps } from './delivery.processor';
import { createWorkerMetrics, type WorkerMetrics } from './metrics';
import { queueHealth } from './queue-health';
import { processFanout, processGoalCompleted, type SiteEventsDeps } from './site-events.processor';

export interface JobWorkersDeps {
  config: WorkerConfig;
  logger: Logger;
  registry: Registry;
  pool: Pool;
  clickhouse: ClickHouse;
  /** For the summary builds, whose statements read a whole month of every site: a longer timeout. */
  summariesClickhouse: ClickHouse;
  http: WebhookHttpClient;
}

/**
 * The worker's BullMQ side: queues it produces to, one `Worker` per queue, the repeating schedules,
 * and the `queues` readiness check. Returns components in shutdown order: workers first (stop
 * taking jobs, let active ones finish), then the producer queues.
 */
export async function startJobWorkers(deps: JobWorkersDeps): Promise<Component[]> {
  const { config, logger } = deps;
  const conn = { url: config.REDIS_URL, prefix: config.REDIS_PREFIX };
  const metrics = createWorkerMetrics(deps.registry);
  const queues = {
    webhookDelivery: createWebhookDeliveryQueue(conn),
    alerts: createAlertsQueue(conn),
    siteEvents: createSiteEventsQueue(conn),
    maintenance: createMaintenanceQueue(conn),
  };
  for (const queue of Object.values(queues)) {
    queue.on('error', (err) =>
      logger.warn({ err: err.message, queue: queue.name }, 'queue connection error'),
    );
  }

  const deliveryDeps: DeliveryDeps = {
    pool: deps.pool,
    http: deps.http,
    queue: queues.webhookDelivery,
    metrics,
    logger,
    retryScheduleMs: config.WEBHOOK_RETRY_SCHEDULE,
    disableAfterMs: config.WEBHOOK_DISABLE_AFTER,
    sweepGraceMs: config.WEBHOOK_SWEEP_GRACE,
    retentionMs: config.WEBHOOK_DELIVERY_RETENTION,
  };
  const alertDeps: AlertDeps = {
    pool: deps.pool,
    clickhouse: deps.clickhouse,
    alertsQueue: queues.alerts,
    deliveryQueue: queues.webhookDelivery,
    metrics,
    logger,
    evaluationIntervalMs: config.ALERT_EVALUATION_INTERVAL,
  };
  const siteEventsDeps: SiteEventsDeps = {
    pool: deps.pool,
    deliveryQueue: queues.webhookDelivery,
    metrics,
    logger,
  };

  const ctx: WorkerContext = { config, logger, metrics, conn };
  const workers = [
    createWorker(
      ctx,
      QUEUE_NAMES.webhookDelivery,
      webhookDeliveryJob,
      config.WORKER_CONCURRENCY_WEBHOOK_DELIVERY,
      (data, job, token) =>
        data.type === 'deliver'
          ? processDelivery(deliveryDeps, job, token, data)
          : sweepDeliveries(deliveryDeps),
    ),
    createWorker(ctx, QUEUE_NAMES.alerts, alertsJob, config.WORKER_CONCURRENCY_ALERTS, (data) =>
      data.type === 'schedule-threshold-alerts'
        ? scheduleThresholdAlerts(alertDeps)
        : evaluateThresholdAlert(alertDeps, data),
    ),
    createWorker(ctx, QUEUE_NAMES.siteEvents, siteEventsJob, config.WORKER_CONCURRENCY_SITE_EVENTS, (data) =>
      data.type === 'goal-completed'
        ? processGoalCompleted(siteEventsDeps, data)
        : processFanout(siteEventsDeps, data),
    ),
    // One run at a time across every worker process (the lock), as a run deletes rows it does not know.
    createWorker(ctx, QUEUE_NAMES.maintenance, maintenanceJob, 1, async () => {
      const { built, dayMonths } = await withAdvisoryLock(deps.pool, SUMMARY_REFRESH_LOCK_ID, async () => ({
        built: await refreshClosedMonthSummaries(deps.summariesClickhouse),
        dayMonths: await refreshDimensionDays(deps.summariesClickhouse, new Date()),
      }));
      for (const b of built) metrics.summaryBuilds.inc({ kind: b.kind });
      if (dayMonths.length > 0) metrics.summaryBuilds.inc({ kind: 'dimension_days' }, dayMonths.length);
      if (built.length > 0) logger.info({ built }, 'closed-month summaries built');
      if (dayMonths.length > 0) logger.info({ months: dayMonths }, 'dimension day rows rebuilt');
      return { built: built.length, dimensionDayMonths: dayMonths.length };
    }),
  ];

  await upsertSchedules(queues, {
    thresholdAlertsMs: config.ALERT_EVALUATION_INTERVAL,
    sweepDeliveriesMs: config.WEBHOOK_SWEEP_INTERVAL,
    refreshSummariesMs: config.SUMMARY_REFRESH_INTERVAL,
  });

  // Active jobs get most of the shutdown budget; whatever is still running after it is abandoned
  // and recovered as stalled by another worker (same delivery id), not lost.
  const drainMs = Math.floor(config.SHUTDOWN_TIMEOUT_MS * 0.7);
  return [
    queueHealth(Object.values(queues), deps.registry, config.QUEUE_STUCK_AFTER),
    {
      name: 'job-workers',
      onShutdown: async () => {
        await Promise.all(workers.map((w) => closeWithin(w, drainMs)));
      },
    },
    {
      name: 'queue-producers',
      onShutdown: async () => {
        await Promise.all(Object.values(queues).map((q) => q.close()));
      },
    },
  ];
}

interface WorkerContext {
  config: WorkerConfig;
  logger: Logger;
  metrics: WorkerMetrics;
  conn: { url: string; prefix: string };
}

/**
 * A BullMQ worker whose processor validates the payload first (an invalid one can never succeed,
 * so it fails without retries) and counts every run.
 */
function createWorker<S extends z.ZodType<{ type: string }>>(
  { config, logger, metrics, conn }: WorkerContext,
  queue: QueueName,
  schema: S,
  concurrency: number,
  handle: (data: z.output<S>, job: Job, token: string | undefined) => Promise<unknown>,
): Worker {
  const worker = new Worker(
    queue,
    async (job: Job, token?: string) => {
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) {
        metrics.jobs.inc({ queue, name: job.name, result: 'failed' });
        throw new UnrecoverableError(`invalid ${queue} job: ${z.prettifyError(parsed.error)}`);
      }
      const name = parsed.data.type;
      try {
        const result = await handle(parsed.data, job, token);
        metrics.jobs.inc({ queue, name, result: 'completed' });
        return result;
      } catch (err) {
        metrics.jobs.inc({ queue, name, result: err instanceof DelayedError ? 'delayed' : 'failed' });
        throw err;
      }
    },
    {
      ...bullOptions(conn, { maxRetriesPerRequest: null }),
      concurrency,
      lockDuration: config.WORKER_LOCK_DURATION,
      stalledInterval: config.WORKER_STALLED_INTERVAL,
      maxStalledCount: config.WORKER_MAX_STALLED_COUNT,
    },
  );
  worker.on('failed', (job, err) => {
    const final = err instanceof UnrecoverableError || (job && job.attemptsMade >= (job.opts.attempts ?? 1));
    logger.warn({ queue, jobId: job?.id, name: job?.name, err: err.message, final }, 'job failed');
  });
  worker.on('stalled', (jobId) =>
    logger.warn({ queue, jobId }, 'job stalled: its worker stopped, running it again'),
  );
  worker.on('error', (err) => logger.error({ err, queue }, 'worker error'));
  return worker;
}

async function closeWithin(worker: Worker, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
    timer.unref();
  });
  const closing = worker.close();
  const result = await Promise.race([closing.then(() => 'closed' as const), timedOut]);
  clearTimeout(timer);
  if (result === 'timeout') await worker.close(true);
}
