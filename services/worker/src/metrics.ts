import { Counter, Histogram, type Registry } from 'prom-client';

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/** Job and business metrics; queue depths are gauges read from Redis at scrape time (queue-health.ts). */
export function createWorkerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    jobs: new Counter<'queue' | 'name' | 'result'>({
      name: 'tidemark_worker_jobs_total',
      help: 'Job runs by queue, job name and result (completed, delayed: rescheduled, failed: thrown)',
      labelNames: ['queue', 'name', 'result'],
      registers,
    }),
    deliveries: new Counter<'outcome'>({
      name: 'tidemark_webhook_deliveries_total',
      help:
        'Delivery job runs by outcome: succeeded, retrying, gave_up (schedule used up), ' +
        'endpoint_disabled, manual_failed, skipped (already finished or endpoint disabled)',
      labelNames: ['outcome'],
      registers,
    }),
    attemptSeconds: new Histogram<'result'>({
      name: 'tidemark_webhook_attempt_seconds',
      help: 'Duration of webhook HTTP attempts until the response headers (or the failure)',
      labelNames: ['result'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    requeuedDeliveries: new Counter({
      name: 'tidemark_webhook_deliveries_requeued_total',
      help: 'Open deliveries found without a live job and enqueued again by the sweep',
      registers,
    }),
    alertEvaluations: new Counter<'result'>({
      name: 'tidemark_alert_evaluations_total',
      help:
        'Threshold alert evaluations: fired, cooldown (breached but cooling down), quiet, ' +
        'duplicate (window already evaluated elsewhere), skipped (alert disabled or gone)',
      labelNames: ['result'],
      registers,
    }),
    alertsFired: new Counter<'kind'>({
      name: 'tidemark_alerts_fired_total',
      help: 'Alerts fired, by kind (threshold, goal)',
      labelNames: ['kind'],
      registers,
    }),
    summaryBuilds: new Counter<'kind'>({
      name: 'tidemark_summary_builds_total',
      help: 'Closed-month summaries built, by kind (sessions_month, site_month, site_year_prefix, country_month, visit_attributes_month), and months of day totals rebuilt (dimension_days)',
      labelNames: ['kind'],
      registers,
    }),
  };
}
