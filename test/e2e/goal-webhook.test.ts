import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi, signupOwner, type ApiInit } from '../support/api';
import { startPipeline, type RunningPipeline } from '../support/services';
import { waitFor } from '../support/stack';
import { startWebhookReceiver, verifyWebhooks, type WebhookReceiver } from '../support/webhooks';

/**
 * A goal completion from the tracker endpoint to a subscriber, every piece real and in its own
 * process: ingest → Kafka → consumer (stores the event, then tells the worker) → worker (fires the
 * goal alert, signs and sends `goal.completed` and `alert.triggered`) → an HTTP receiver here,
 * which checks the signatures with the official Standard Webhooks library.
 */
describe('signup event → goal completed → alert fired → signed webhooks', () => {
  let pipeline: RunningPipeline;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    pipeline = await startPipeline(['api', 'consumer', 'worker', 'ingest'], {
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      WEBHOOK_RETRY_SCHEDULE: '200ms,200ms,200ms',
    });
  });

  afterAll(async () => {
    await pipeline?.stop();
    await receiver?.close();
  });

  const api = (path: string, init?: ApiInit) => callApi(pipeline.urls.api, path, init);

  it('delivers goal.completed and alert.triggered, signed, and shows them in the api', async () => {
    const token = await signupOwner(pipeline.urls.api, { email: 'owner@example.com' });
    const site = (
      await api('/api/v1/sites', {
        method: 'POST',
        token,
        body: { domain: 'shop.example.com', name: 'Shop' },
      })
    ).body.data as { id: string; site_key: string };
    const base = `/api/v1/sites/${site.id}`;
    expect(
      (await api(`${base}/goals`, { method: 'POST', token, body: { name: 'Signup', event_name: 'signup' } }))
        .status,
    ).toBe(201);
    const alert = await api(`${base}/alerts`, {
      method: 'POST',
      token,
      body: {
        name: 'New signup',
        trigger: { goal_name: 'Signup' },
        template: {
          subject: 'New {{goal_name}} on {{site_domain}}',
          message: 'A visitor completed {{goal_name}}.',
        },
      },
    });
    expect(alert.status).toBe(201);
    const hook = await api(`${base}/webhooks`, {
      method: 'POST',
      token,
      body: { url: receiver.url, events: ['goal.completed', 'alert.triggered'] },
    });
    expect(hook.status).toBe(201);
    const { id: hookId, secret } = hook.body.data as { id: string; secret: string };

    const eventId = crypto.randomUUID();
    const beacon = await fetch(`${pipeline.urls.ingest}/api/v1/track`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
      },
      body: JSON.stringify({
        site_key: site.site_key,
        name: 'signup',
        url: 'https://shop.example.com/welcome',
        event_id: eventId,
      }),
    });
    expect(beacon.status).toBe(202);

    await waitFor(() => (receiver.received.length >= 2 ? true : undefined), {
      timeout: 60_000,
      interval: 250,
      message: 'two webhook deliveries at the receiver',
    });
    const payloads = verifyWebhooks(receiver.received, secret);
    const byType = Object.fromEntries(payloads.map((p) => [p.type, p]));
    expect(Object.keys(byType).sort()).toEqual(['alert.triggered', 'goal.completed']);
    expect(byType['goal.completed']!.data).toEqual({
      site_id: site.id,
      goal_name: 'Signup',
      event_id: eventId,
      completed_at: expect.any(String),
    });
    expect(byType['alert.triggered']!.data).toMatchObject({
      site_id: site.id,
      alert_id: alert.body.data.id,
      alert_name: 'New signup',
      event_id: eventId,
      subject: 'New Signup on shop.example.com',
      message: 'A visitor completed Signup.',
    });

    const deliveries = await waitFor(
      async () => {
        const res = await api(`${base}/webhooks/${hookId}/deliveries`, { token });
        const data = res.body.data as Array<{
          id: string;
          status: string;
          event_type: string;
          attempts: unknown[];
        }>;
        return data.length === 2 && data.every((d) => d.status === 'succeeded') ? data : undefined;
      },
      { timeout: 30_000, interval: 250, message: 'both deliveries succeeded in the api' },
    );
    expect(deliveries.map((d) => d.event_type).sort()).toEqual(['alert.triggered', 'goal.completed']);
    expect(deliveries.map((d) => d.id).sort()).toEqual(payloads.map((p) => p.id).sort());
    for (const d of deliveries) {
      expect(d.attempts).toEqual([expect.objectContaining({ attempt: 1, status_code: 204, error: null })]);
    }

    const history = await api(`${base}/alerts/history?alert_id=${alert.body.data.id}`, { token });
    expect(history.body.data).toEqual([
      expect.objectContaining({
        alert_id: alert.body.data.id,
        alert_name: 'New signup',
        event_id: eventId,
        subject: 'New Signup on shop.example.com',
        value: null,
        window: null,
      }),
    ]);
  });
});
