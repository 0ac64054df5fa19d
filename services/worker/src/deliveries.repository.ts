import type { Pool, PoolClient } from '@tidemark/db';
import type { WebhookPayload, WebhookResponse } from '@tidemark/webhooks';

export interface DeliveryRow {
  id: string;
  subscription_id: string;
  status: 'pending' | 'retrying' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: Date | null;
  is_test: boolean;
  payload: WebhookPayload;
  url: string;
  secret: string;
  subscription_enabled: boolean;
}

export async function loadDelivery(db: Pool, id: string): Promise<DeliveryRow | null> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT d.id, d.subscription_id, d.status, d.attempts, d.next_attempt_at, d.is_test, d.payload,
            s.url, s.secret, s.is_enabled AS subscription_enabled
       FROM webhook_deliveries d
       JOIN webhook_subscriptions s ON s.id = d.subscription_id
      WHERE d.id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

export async function inTransaction<T>(db: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Appends the attempt to the log; returns its number (1 for the first attempt). */
export async function recordAttempt(
  db: PoolClient,
  deliveryId: string,
  res: WebhookResponse,
  manual: boolean,
): Promise<number> {
  const { rows } = await db.query<{ attempts: number }>(
    `UPDATE webhook_deliveries
        SET attempts = attempts + 1, last_status_code = $2, last_error = $3
      WHERE id = $1
      RETURNING attempts`,
    [deliveryId, res.statusCode, res.error],
  );
  const attempt = rows[0]!.attempts;
  await db.query(
    `INSERT INTO webhook_delivery_attempts
       (delivery_id, attempt, status_code, latency_ms, response_excerpt, error, manual)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [deliveryId, attempt, res.statusCode, res.latencyMs, res.excerpt, res.error, manual],
  );
  return attempt;
}

export async function markSucceeded(
  db: PoolClient,
  deliveryId: string,
  subscriptionId: string,
): Promise<void> {
  await db.query(
    `UPDATE webhook_deliveries SET status = 'succeeded', next_attempt_at = NULL, completed_at = now()
      WHERE id = $1`,
    [deliveryId],
  );
  await db.query(
    `UPDATE webhook_subscriptions SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`,
    [subscriptionId],
  );
}

export async function markFailed(db: Pool | PoolClient, deliveryId: string, error?: string): Promise<void> {
  await db.query(
    `UPDATE webhook_deliveries
        SET status = 'failed', next_attempt_at = NULL, completed_at = now(),
            last_error = COALESCE($2, last_error)
      WHERE id = $1`,
    [deliveryId, error ?? null],
  );
}

export async function markRetrying(db: PoolClient, deliveryId: string, nextAttemptAt: Date): Promise<void> {
  await db.query(`UPDATE webhook_deliveries SET status = 'retrying', next_attempt_at = $2 WHERE id = $1`, [
    deliveryId,
    nextAttemptAt,
  ]);
}

/**
 * Notes a failed attempt against the endpoint; returns true when it has now failed for
 * `disableAfterMs` without a success in between and was disabled by this call.
 */
export async function noteEndpointFailure(
  db: PoolClient,
  subscriptionId: string,
  disableAfterMs: number,
): Promise<boolean> {
  const { rows } = await db.query<{ failing_since: Date }>(
    `UPDATE webhook_subscriptions SET failing_since = COALESCE(failing_since, now())
      WHERE id = $1
      RETURNING failing_since`,
    [subscriptionId],
  );
  const since = rows[0]?.failing_since;
  if (!since) return false;
  const { rows: disabled } = await db.query(
    `UPDATE webhook_subscriptions
        SET is_enabled = false, disabled_at = now(),
            disabled_reason = 'every attempt failed since ' || to_char(failing_since AT TIME ZONE 'UTC',
              'YYYY-MM-DD"T"HH24:MI:SS"Z"')
      WHERE id = $1 AND is_enabled AND failing_since <= now() - $2 * interval '1 millisecond'
      RETURNING id`,
    [subscriptionId, disableAfterMs],
  );
  return disabled.length > 0;
}

export async function disableEndpoint(db: PoolClient, subscriptionId: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE webhook_subscriptions
        SET is_enabled = false, disabled_at = now(), disabled_reason = $2,
            failing_since = COALESCE(failing_since, now())
      WHERE id = $1 AND is_enabled`,
    [subscriptionId, reason],
  );
}

/** Open deliveries overdue by `graceMs`: their job was probably lost (see the sweep). */
export async function overdueDeliveries(db: Pool, graceMs: number, limit = 1_000): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM webhook_deliveries
      WHERE status IN ('pending', 'retrying') AND next_attempt_at < now() - $1 * interval '1 millisecond'
      ORDER BY next_attempt_at
      LIMIT $2`,
    [graceMs, limit],
  );
  return rows.map((r) => r.id);
}

/** Deletes finished deliveries (their attempts cascade) older than `retentionMs`, a bounded batch per call. */
export async function pruneDeliveries(db: Pool, retentionMs: number, limit = 5_000): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM webhook_deliveries WHERE id IN (
       SELECT id FROM webhook_deliveries
        WHERE created_at < now() - $1 * interval '1 millisecond' AND status IN ('succeeded', 'failed')
        LIMIT $2)`,
    [retentionMs, limit],
  );
  return rowCount ?? 0;
}
