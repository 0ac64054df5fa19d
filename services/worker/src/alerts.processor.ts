import type { ClickHouse } from '@tidemark/clickhouse';
import type { Pool } from '@tidemark/db';
import type { Logger } from '@tidemark/logging';
import {
  enqueueDeliveries,
  enqueueThresholdEvaluations,
  type AlertsJob,
  type AlertsQueue,
  type WebhookDeliveryQueue,
} from '@tidemark/queues';
import {
  alertTemplate,
  claimWindow,
  enabledGoalAlerts,
  enabledThresholdAlertIds,
  fireAlert,
  loadEnabledAlert,
  thresholdTrigger,
  type AlertRow,
  type Firing,
} from './alerts.repository';
import { inTransaction } from './deliveries.repository';
import type { WorkerMetrics } from './metrics';
import { renderTemplate } from './template';
import { measureMetric } from './threshold-query';

export interface AlertDeps {
  pool: Pool;
  clickhouse: ClickHouse;
  alertsQueue: AlertsQueue;
  deliveryQueue: WebhookDeliveryQueue;
  metrics: WorkerMetrics;
  logger: Logger;
  evaluationIntervalMs: number;
}

/**
 * The repeating tick: one evaluation job per enabled threshold alert for the window that ends at
 * the interval boundary nearest to now. Ticks come one interval apart, so nearest-boundary
 * rounding gives each tick its own window even when the scheduler runs a little early or late.
 */
export async function scheduleThresholdAlerts(deps: AlertDeps, now = Date.now()) {
  const interval = deps.evaluationIntervalMs;
  const windowEnd = new Date(Math.round(now / interval) * interval);
  const ids = await enabledThresholdAlertIds(deps.pool);
  await enqueueThresholdEvaluations(deps.alertsQueue, ids, windowEnd);
  return { alerts: ids.length, windowEnd: windowEnd.toISOString() };
}

type Evaluate = Extract<AlertsJob, { type: 'evaluate-threshold-alerts' }>;

export async function evaluateThresholdAlert(deps: AlertDeps, { alertId, windowEnd: end }: Evaluate) {
  const { metrics } = deps;
  const windowEnd = new Date(end);
  const alert = await loadEnabledAlert(deps.pool, alertId);
  const trigger = alert && thresholdTrigger.safeParse(alert.trigger);
  if (!alert || !trigger?.success) {
    metrics.alertEvaluations.inc({ result: 'skipped' });
    return { result: 'skipped' };
  }
  if (alert.last_evaluated_at && alert.last_evaluated_at >= windowEnd) {
    metrics.alertEvaluations.inc({ result: 'duplicate' });
    return { result: 'duplicate' };
  }
  const t = trigger.data;
  const windowStart = new Date(windowEnd.getTime() - t.window_minutes * 60_000);
  // Measured before the claim: if ClickHouse fails, the job's retry can still take the window.
  const value = await measureMetric(deps.clickhouse, alert.site_id, t.metric, windowStart, windowEnd);
  const breached = t.op === 'gt' ? value > t.value : value < t.value;

  const { result, deliveryIds } = await inTransaction(deps.pool, async (tx) => {
    if (!(await claimWindow(tx, alert.id, windowEnd))) return { result: 'duplicate', deliveryIds: [] };
    if (!breached) return { result: 'quiet', deliveryIds: [] };
    const vars = {
      alert_name: alert.name,
      site_domain: alert.site_domain,
      metric: t.metric,
      value,
      op: t.op === 'gt' ? 'above' : 'below',
      threshold: t.value,
      window_minutes: t.window_minutes,
    };
    const ids = await fireAlert(tx, alert, {
      ...rendered(alert, vars),
      value,
      window: { from: windowStart, to: windowEnd },
      eventId: null,
      dedupeKey: `window:${windowEnd.toISOString()}`,
    });
    return ids ? { result: 'fired', deliveryIds: ids } : { result: 'cooldown', deliveryIds: [] };
  });
  metrics.alertEvaluations.inc({ result });
  if (result === 'fired') {
    metrics.alertsFired.inc({ kind: 'threshold' });
    deps.logger.info({ alertId, siteId: alert.site_id, metric: t.metric, value }, 'threshold alert fired');
  }
  await enqueueDeliveries(deps.deliveryQueue, deliveryIds);
  return { result, value };
}

/** Fires every enabled alert on this goal (each subject to its cooldown). */
export async function fireGoalAlerts(
  deps: Pick<AlertDeps, 'pool' | 'deliveryQueue' | 'metrics' | 'logger'>,
  goal: { siteId: string; goalName: string; eventId: string },
) {
  let fired = 0;
  for (const alert of await enabledGoalAlerts(deps.pool, goal.siteId, goal.goalName)) {
    const firing: Firing = {
      ...rendered(alert, {
        alert_name: alert.name,
        site_domain: alert.site_domain,
        goal_name: goal.goalName,
      }),
      value: null,
      window: null,
      eventId: goal.eventId,
      dedupeKey: `event:${goal.eventId}`,
    };
    const deliveryIds = await inTransaction(deps.pool, (tx) => fireAlert(tx, alert, firing));
    if (!deliveryIds) continue;
    fired++;
    deps.metrics.alertsFired.inc({ kind: 'goal' });
    await enqueueDeliveries(deps.deliveryQueue, deliveryIds);
  }
  return fired;
}

function rendered(alert: AlertRow, vars: Record<string, string | number | null>) {
  const template = alertTemplate.safeParse(alert.template);
  const subject = template.success ? template.data.subject : alert.name;
  const message = template.success ? template.data.message : '';
  return { subject: renderTemplate(subject, vars), message: renderTemplate(message, vars) };
}
