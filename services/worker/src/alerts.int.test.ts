import { randomUUID } from 'node:crypto';
import { createClickHouse, type ClickHouse } from '@tidemark/clickhouse';
import type { Pool } from '@tidemark/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshClickHouse, freshPostgres, waitFor } from '../../../test/support/stack';
import {
  Receiver,
  counterValue,
  createSubscription,
  newPool,
  seedSite,
  spawnWorker,
  workerEnv,
  type WorkerProcess,
} from './int-support';

const INTERVAL_MS = 2_000;

let pool: Pool;
let clickhouse: ClickHouse;
let env: Record<string, string>;
let receiver: Receiver;
const processes: WorkerProcess[] = [];

beforeAll(async () => {
  const [url, ch] = await Promise.all([freshPostgres(), freshClickHouse()]);
  pool = newPool(url);
  clickhouse = createClickHouse(ch);
  env = workerEnv(url, { CLICKHOUSE_DATABASE: ch.database, ALERT_EVALUATION_INTERVAL: `${INTERVAL_MS}ms` });
  receiver = await Receiver.start();
});

afterAll(async () => {
  for (const p of processes) await p.kill();
  await receiver?.close();
  await clickhouse?.close();
  await pool?.end();
});

/** Three visitors on the site a minute ago. */
async function trackVisitors(siteId: string) {
  const at = new Date(Date.now() - 60_000).toISOString().slice(0, 23).replace('T', ' ');
  await clickhouse.insert({
    table: 'events',
    format: 'JSONEachRow',
    values: ['1', '2', '3'].map((visitor) => ({
      event_id: randomUUID(),
      site_id: siteId,
      timestamp: at,
      name: 'pageview',
      visitor_id: visitor,
      session_id: visitor,
    })),
  });
}

describe('threshold alerts with two worker processes', () => {
  it('evaluates each alert once per interval, fires it and sends alert.triggered', async () => {
    const siteId = await seedSite(pool);
    await trackVisitors(siteId);
    await createSubscription(pool, siteId, receiver.url, ['alert.triggered']);
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO alerts (site_id, name, trigger, template, cooldown_minutes)
       VALUES ($1, 'Busy', '{"metric": "visitors", "window_minutes": 60, "op": "gt", "value": 2}',
               '{"subject": "{{metric}} {{op}} {{threshold}}", "message": "{{value}} in {{window_minutes}} min"}', 0)
       RETURNING id`,
      [siteId],
    );
    const alertId = rows[0]!.id;

    processes.push(...(await Promise.all([spawnWorker(env), spawnWorker(env)])));
    const history = async () =>
      (
        await pool.query<{ window_end: Date; value: number; subject: string; message: string }>(
          'SELECT window_end, value, subject, message FROM alert_history WHERE alert_id = $1 ORDER BY window_end',
          [alertId],
        )
      ).rows;
    await waitFor(async () => ((await history()).length >= 4 ? true : undefined), {
      timeout: 30_000,
      message: '4 evaluated windows',
    });
    // Stop new evaluations, then let the one in flight, if any, settle.
    await pool.query('UPDATE alerts SET is_enabled = false WHERE id = $1', [alertId]);
    await new Promise((r) => setTimeout(r, INTERVAL_MS + 500));

    const fired = await history();
    const windows = fired.map((h) => h.window_end.getTime());
    expect(new Set(windows).size).toBe(windows.length);
    for (const w of windows) expect(w % INTERVAL_MS).toBe(0);
    windows.slice(1).forEach((w, i) => expect(w - windows[i]!).toBeGreaterThanOrEqual(INTERVAL_MS));
    expect(fired[0]).toMatchObject({ value: 3, subject: 'visitors above 2', message: '3 in 60 min' });

    const metrics = await Promise.all(processes.map((p) => p.metrics()));
    const sum = (name: string, labels: Record<string, string>) =>
      metrics.reduce((total, text) => total + counterValue(text, name, labels), 0);
    // No window reached an evaluator twice, across both processes.
    expect(sum('tidemark_alert_evaluations_total', { result: 'duplicate' })).toBe(0);
    expect(sum('tidemark_alert_evaluations_total', { result: 'fired' })).toBe(fired.length);

    await waitFor(() => (receiver.requests.length === fired.length ? true : undefined), {
      message: 'one alert.triggered per firing',
    });
    const bodies = receiver.requests.map((r) => JSON.parse(r.body));
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size).toBe(fired.length);
    expect(bodies.map((b) => b.data.window.to).sort()).toEqual(fired.map((h) => h.window_end.toISOString()));
    expect(bodies[0]).toMatchObject({
      type: 'alert.triggered',
      data: {
        alert_id: alertId,
        site_id: siteId,
        value: 3,
        trigger: { metric: 'visitors', op: 'gt', value: 2 },
      },
    });
  });

  it('reports queues on /readyz as ready while workers take jobs', async () => {
    const res = await fetch(`http://127.0.0.1:${processes[0]!.port}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { checks: Record<string, { ok: boolean }> };
    expect(body.checks).toMatchObject({ queues: { ok: true }, redis: { ok: true }, postgres: { ok: true } });
  });
});
