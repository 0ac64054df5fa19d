import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@tidemark/db';
import { openGeoDatabase, type GeoDatabase } from '@tidemark/enrichment';
import { enrichedEventV1, type EnrichedEventV1 } from '@tidemark/events';
import { DESKTOP_CHROME_UA, launchChromium, listen } from '../../../test/support/browser';
import { readTopic } from '../../../test/support/kafka-reader';
import { freshPostgres, stackEnv, waitFor } from '../../../test/support/stack';
import { createSite, startIngestHarness, type IngestHarness } from './ingest.test-harness';

/**
 * The tracker served by the real ingest service, in headless Chromium, on a page of another
 * origin: what a visitor does arrives in Kafka as enriched events.
 */
describe('tracker in a browser → ingest → Kafka', () => {
  let pool: Pool;
  let geo: GeoDatabase;
  let ingest: IngestHarness;
  let ingestOrigin: string;
  let site: Server;
  let siteOrigin: string;
  let browser: Browser;
  let siteKey: string;
  let siteId: string;

  beforeAll(async () => {
    pool = createPool(await freshPostgres(), { max: 2 });
    geo = await openGeoDatabase();
    ({ key: siteKey, id: siteId } = await createSite(pool));
    ingest = await startIngestHarness({ pool, geo });
    await ingest.app.listen({ port: 0, host: '127.0.0.1' });
    ingestOrigin = `http://127.0.0.1:${(ingest.app.server.address() as AddressInfo).port}`;
    ({ server: site, origin: siteOrigin } = await listen((req, res) => {
      if (req.url === '/away')
        return void res.writeHead(200, { 'content-type': 'text/html' }).end('<p>bye</p>');
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html><head>
        <script defer data-site="${siteKey}" data-allow-local src="${ingestOrigin}/js/script.js"></script>
        </head><body><a id="out" href="https://partner.example.org/deal">partner</a>
        <script>document.addEventListener('click', (e) => e.preventDefault());</script></body></html>`);
    }));
    browser = await launchChromium({ userAgent: DESKTOP_CHROME_UA });
  });

  afterAll(async () => {
    await browser?.close();
    site?.close();
    await ingest?.close();
    geo?.close();
    await pool?.end();
  });

  it('delivers page views, SPA navigation, a custom event, an outbound click and engagement', async () => {
    const reader = await readTopic(stackEnv().KAFKA_BROKERS.split(','), ingest.topic);
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${siteOrigin}/landing?utm_source=launch`);
      const events = () => reader.messages.map((m) => enrichedEventV1.parse(JSON.parse(m.value!.toString())));
      const arrived = (p: (e: EnrichedEventV1) => boolean) =>
        waitFor(() => events().find(p), { timeout: 15_000, message: 'an event in Kafka' });

      const landing = await arrived((e) => e.name === 'pageview' && e.pathname === '/landing');
      await page.evaluate("history.pushState({}, '', '/app/settings')");
      const spa = await arrived((e) => e.name === 'pageview' && e.pathname === '/app/settings');
      await page.evaluate("tidemark('signup', { props: { plan: 'team' } })");
      const signup = await arrived((e) => e.name === 'signup');
      await page.click('#out');
      const outbound = await arrived((e) => e.name === 'Outbound Link: Click');
      await page.goto(`${siteOrigin}/away`);
      const engagement = await arrived((e) => e.name === 'engagement' && e.pathname === '/app/settings');
      await context.close();

      for (const e of [landing, spa, signup, outbound, engagement]) {
        expect(e.site_id).toBe(siteId);
        expect(e.visitor_id).toBe(landing.visitor_id);
        expect(e.session_id).toBe(landing.session_id);
        expect(e.browser).toBe('Chrome');
      }
      expect(landing.utm_source).toBe('launch');
      // Same-site referrers are internal navigation, not a source.
      expect(spa.referrer).toBe('');
      expect(signup.props).toEqual({ plan: 'team' });
      expect(outbound.link_url).toBe('https://partner.example.org/deal');
      expect(engagement.engagement_time_ms).toBeGreaterThan(0);
      expect(events().filter((e) => e.name === 'pageview')).toHaveLength(2);
    } finally {
      await reader.stop();
    }
  });
});
