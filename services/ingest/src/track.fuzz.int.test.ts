import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@tidemark/db';
import { openGeoDatabase, type GeoDatabase } from '@tidemark/enrichment';
import { freshPostgres } from '../../../test/support/stack';
import { createSite, startIngestHarness, type IngestHarness } from './ingest.test-harness';

/**
 * Property-based pass over the tracking endpoints: whatever arrives, the answer is a 202 or a
 * documented 4xx in the one error shape, never a 5xx or an unhandled rejection. Fixed seed and a
 * bounded number of cases, so a failure reproduces.
 */
const SEED = 20261124;
const RUNS = 300;
const ERROR_CODES = new Set([
  'invalid_request',
  'unknown_site',
  'payload_too_large',
  'unsupported_media_type',
  'validation_failed',
]);

describe('fuzzing the tracking endpoints', () => {
  let pool: Pool;
  let geo: GeoDatabase;
  let h: IngestHarness;
  let siteKey: string;

  beforeAll(async () => {
    pool = createPool(await freshPostgres(), { max: 2 });
    geo = await openGeoDatabase();
    siteKey = (await createSite(pool)).key;
    h = await startIngestHarness({ pool, geo });
  });

  afterAll(async () => {
    await h?.close();
    geo?.close();
    await pool?.end();
  });

  const checkAnswer = (res: { statusCode: number; body: string }) => {
    expect(res.statusCode).toBeLessThan(500);
    const body = JSON.parse(res.body) as { error?: { code: string; message: string; details?: unknown } };
    if (res.statusCode === 202) return;
    expect([400, 404, 413, 415, 422]).toContain(res.statusCode);
    expect(ERROR_CODES.has(body.error!.code)).toBe(true);
    expect(typeof body.error!.message).toBe('string');
    if (body.error!.details !== undefined) {
      for (const messages of Object.values(body.error!.details as Record<string, unknown>)) {
        expect(Array.isArray(messages)).toBe(true);
      }
    }
  };

  const noisyEvent = () =>
    fc.record(
      {
        site_key: fc.constantFrom(siteKey, 'sk_unknown000000', '', 'sk_'),
        name: fc.oneof(fc.constantFrom('pageview', 'signup'), fc.string({ maxLength: 200 })),
        url: fc.oneof(fc.webUrl(), fc.string({ maxLength: 100 })),
        referrer: fc.oneof(fc.webUrl(), fc.constant(''), fc.string()),
        props: fc.dictionary(
          fc.string({ maxLength: 80 }),
          fc.oneof(fc.string({ maxLength: 600 }), fc.double(), fc.boolean(), fc.constant(null)),
          {
            maxKeys: 35,
          },
        ),
        revenue: fc.record({
          amount: fc.oneof(fc.double(), fc.integer()),
          currency: fc.string({ maxLength: 4 }),
        }),
        screen_width: fc.oneof(fc.integer(), fc.double()),
        engagement: fc.record({ time_ms: fc.integer(), scroll_pct: fc.double() }),
        click: fc.record({ x: fc.double(), y: fc.double() }),
        event_id: fc.oneof(fc.uuid(), fc.string()),
      },
      { requiredKeys: [] },
    );

  /** Events the contract accepts, with optional parts present or not. */
  const goodEvent = () =>
    fc.record(
      {
        site_key: fc.constant(siteKey),
        name: fc.constantFrom('pageview', 'signup', 'Outbound Link: Click'),
        url: fc.webUrl({ validSchemes: ['https'] }),
        referrer: fc.constantFrom('', 'https://www.google.com/'),
        props: fc.dictionary(
          fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !/[\u0000-\u001f\u007f]/.test(k)),
          fc.oneof(fc.integer(), fc.boolean()),
          { maxKeys: 5 },
        ),
        screen_width: fc.integer({ min: 0, max: 5000 }),
        event_id: fc.uuid(),
      },
      { requiredKeys: ['site_key', 'name', 'url'] },
    );

  it('answers arbitrary JSON bodies on /api/v1/track with 202 or a documented 4xx', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(goodEvent(), noisyEvent(), fc.jsonValue()),
        fc.constantFrom('application/json', 'text/plain'),
        async (body, contentType) => {
          const res = await h.app.inject({
            method: 'POST',
            url: '/api/v1/track',
            headers: {
              'content-type': contentType,
              'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0',
            },
            payload: JSON.stringify(body),
          });
          checkAnswer(res);
          if (res.statusCode === 202) accepted++;
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    // The generator must reach the accepting path too, or the property says little.
    expect(accepted).toBeGreaterThan(0);
  });

  it('answers arbitrary bytes and batches with 202 or a documented 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }).map((s) => ({ url: '/api/v1/track', payload: s })),
          fc.array(fc.oneof(noisyEvent(), fc.jsonValue()), { maxLength: 110 }).map((events) => ({
            url: '/api/v1/track/batch',
            payload: JSON.stringify({ events }),
          })),
          fc.jsonValue().map((v) => ({ url: '/api/v1/track/batch', payload: JSON.stringify(v) })),
        ),
        async ({ url, payload }) => {
          const res = await h.app.inject({
            method: 'POST',
            url,
            headers: { 'content-type': 'application/json' },
            payload,
          });
          checkAnswer(res);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
