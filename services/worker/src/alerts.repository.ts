import type { Pool, PoolClient } from '@tidemark/db';
import { createEventDeliveries, type AlertTriggeredData } from '@tidemark/webhooks';
import { z } from 'zod';

export const thresholdTrigger = z.object({
  metric: z.enum(['visitors', 'pageviews', 'events']),
  window_minutes: z.number().int().min(1).max(43_200),
  op: z.enum(['gt', 'lt']),
  value: z.number(),
});
export type ThresholdTrigger = z.infer<typeof thresholdTrigger>;

export const alertTemplate = z.object({ subject: z.string(), message: z.string() });

export interface AlertRow {
  id: string;
  site_id: string;
  site_domain: string;
  name: string;
  trigger: Record<string, unknown>;
  template: unknown;
  cooldown_minutes: number;
  last_evaluated_at: Date | null;
}

const ALERT_COLUMNS = `a.id, a.site_id, s.domain AS site_domain, a.name, a.trigger, a.template,
  a.cooldown_minutes, a.last_evaluated_at`;

export async function enabledThresholdAlertIds(db: Pool): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM alerts WHERE is_enabled AND goal_name IS NULL ORDER BY id`,
  );
  return rows.map((r) => r.id);
}

export async function loadEnabledAlert(db: Pool, id: string): Promise<AlertRow | null> {
  const { rows } = await db.query<AlertRow>(
    `SELECT ${ALERT_COLUMNS} FROM alerts a JOIN sites s ON s.id = a.site_id WHERE a.id = $1 AND a.is_enabled`,
    [id],
  );
  return rows[0] ?? null;
}

export async function enabledGoalAlerts(db: Pool, siteId: string, goalName: string): Promise<AlertRow[]> {
  const { rows } = await db.query<AlertRow>(
    `SELECT ${ALERT_COLUMNS} FROM alerts a JOIN sites s ON s.id = a.site_id
      WHERE a.site_id = $1 AND a.goal_name = $2 AND a.is_enabled`,
    [siteId, goalName],
  );
  return rows;
}

/**
 * Takes the evaluation of the window ending at `windowEnd`: true for exactly one caller per alert
 * and window, whichever job or worker runs it.
 */
export async function claimWindow(db: PoolClient, alertId: string, windowEnd: Date): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE alerts SET last_evaluated_at = $2
      WHERE id = $1 AND is_enabled AND (last_evaluated_at IS NULL OR last_evaluated_at < $2)`,
    [alertId, windowEnd],
  );
  return rowCount === 1;
}

export interface Firing {
  value: number | null;
  window: { from: Date; to: Date } | null;
  eventId: string | null;
  /** `window:<end>` or `event:<id>`: one firing per window or completing event. */
  dedupeKey: string;
  subject: string;
  message: string;
}

/**
 * Fires the alert unless it is cooling down or this firing was already recorded: moves
 * `last_fired_at` and records the history row in one statement, then creates the `alert.triggered`
 * deliveries in the caller's transaction. Returns the delivery ids to enqueue after commit, or null
 * when it did not fire.
 */
export async function fireAlert(db: PoolClient, alert: AlertRow, firing: Firing): Promise<string[] | null> {
  const { rows: history } = await db.query<{ id: string; fired_at: Date }>(
    `WITH fired AS (
       UPDATE alerts SET last_fired_at = now()
        WHERE id = $1 AND is_enabled
          AND (last_fired_at IS NULL OR last_fired_at <= now() - make_interval(mins => cooldown_minutes))
          AND NOT EXISTS (SELECT 1 FROM alert_history WHERE alert_id = $1 AND dedupe_key = $8)
        RETURNING site_id, last_fired_at
     )
     INSERT INTO alert_history
       (alert_id, site_id, fired_at, value, window_start, window_end, event_id, subject, message, dedupe_key)
     SELECT $1, site_id, last_fired_at, $2::float8, $3::timestamptz, $4::timestamptz, $5::uuid, $6::text, $7::text, $8::text
       FROM fired
     ON CONFLICT (alert_id, dedupe_key) DO NOTHING
     RETURNING id, fired_at`,
    [
      alert.id,
      firing.value,
      firing.window?.from ?? null,
      firing.window?.to ?? null,
      firing.eventId,
      firing.subject,
      firing.message,
      firing.dedupeKey,
    ],
  );
  const row = history[0];
  if (!row) return null;
  const firedAt = row.fired_at;
  const data: AlertTriggeredData = {
    site_id: alert.site_id,
    alert_id: alert.id,
    alert_name: alert.name,
    trigger: alert.trigger,
    value: firing.value,
    window: firing.window
      ? { from: firing.window.from.toISOString(), to: firing.window.to.toISOString() }
      : null,
    event_id: firing.eventId,
    subject: firing.subject,
    message: firing.message,
    triggered_at: firedAt.toISOString(),
  };
  return createEventDeliveries(db, {
    siteId: alert.site_id,
    type: 'alert.triggered',
    timestamp: firedAt.toISOString(),
    data,
    dedupeKey: `alert:${row.id}`,
  });
}
