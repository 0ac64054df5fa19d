import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '@tidemark/clickhouse';
import { callApi, signupOwner, type ApiInit } from '../support/api';
import { startPipeline, type RunningPipeline } from '../support/services';
import { waitFor } from '../support/stack';

/**
 * The first event through the whole pipe, with every piece real and in its own process: a site
 * made through the api, a beacon to ingest, Kafka, the consumer's insert into ClickHouse over
 * HTTP, and the api reading it back through its ClickHouse access (`events_this_month`).
 */
describe('tracker beacon → ingest → Kafka → consumer → ClickHouse → api', () => {
  let pipeline: RunningPipeline;

  beforeAll(async () => {
    pipeline = await startPipeline(['api', 'consumer', 'ingest']);
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  const api = (path: string, init?: ApiInit) => callApi(pipeline.urls.api, path, init);

  it('shows an accepted event in the api within seconds', async () => {
    const token = await signupOwner(pipeline.urls.api, { email: 'first@example.com', name: 'First' });
    const created = await api('/api/v1/sites', {
      method: 'POST',
      token,
      body: { domain: 'shop.example.com', name: 'Shop', timezone: 'Europe/Berlin' },
    });
    expect(created.status).toBe(201);
    const site = created.body.data as { id: string; site_key: string; events_this_month: number | null };
    expect(site.events_this_month).toBe(0);

    const eventId = crypto.randomUUID();
    const beacon = await fetch(`${pipeline.urls.ingest}/api/v1/track`, {
      method: 'POST',
      headers: {
        'content-type': 'text/plain',
        'user-agent':
          'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
        'x-forwarded-for': '81.2.69.160',
      },
      body: JSON.stringify({
        site_key: site.site_key,
        name: 'pageview',
        url: 'https://shop.example.com/pricing',
        event_id: eventId,
      }),
    });
    expect(beacon.status).toBe(202);

    const seen = await waitFor(
      async () => {
        const res = await api(`/api/v1/sites/${site.id}`, { token });
        return res.body.data.events_this_month === 1 ? res.body.data : undefined;
      },
      { timeout: 30_000, interval: 250, message: 'the event in events_this_month' },
    );
    expect(seen.id).toBe(site.id);

    const clickhouse = createClickHouse({
      url: pipeline.env.CLICKHOUSE_URL!,
      database: pipeline.env.CLICKHOUSE_DATABASE!,
    });
    try {
      const rows = await (
        await clickhouse.query({
          query:
            'SELECT toString(event_id) AS event_id, pathname, browser FROM events WHERE site_id = {site:UUID}',
          query_params: { site: site.id },
          format: 'JSONEachRow',
        })
      ).json<{ event_id: string; pathname: string; browser: string }>();
      expect(rows).toEqual([{ event_id: eventId, pathname: '/pricing', browser: 'Safari' }]);
    } finally {
      await clickhouse.close();
    }
  });
});
