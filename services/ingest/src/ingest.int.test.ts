import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@tidemark/db';
import { openGeoDatabase, type GeoDatabase } from '@tidemark/enrichment';
import { enrichedEventV1, type EnrichedEventV1 } from '@tidemark/events';
import { startKafka } from '../../../infra/local/src/engines/kafka';
import { freePorts } from '../../../infra/local/src/engines/ports';
import { ensureRedis } from '../../../infra/local/src/engines/redis';
import { readTopic } from '../../../test/support/kafka-reader';
import { freshPostgres, stackEnv, waitFor } from '../../../test/support/stack';
import { createSite, startIngestHarness, type IngestHarnessOptions } from './ingest.test-harness';

const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';
const US_IP = '8.8.8.8';

let pool: Pool;
let geo: GeoDatabase;
let siteA: { id: string; key: string };
let siteB: { id: string; key: string };
let siteRules: { id: string; key: string };

const harness = (opts: Omit<IngestHarnessOptions, 'pool' | 'geo'> = {}) =>
  startIngestHarness({ pool, geo, ...opts });
const track = (
  app: FastifyInstance,
  body: unknown,
  opts: { ip?: string; ua?: string; contentType?: string } = {},
) =>
  app.inject({
    method: 'POST',
    url: '/api/v1/track',
    remoteAddress: opts.ip ?? US_IP,
    headers: { 'user-agent': opts.ua ?? CHROME, 'content-type': opts.contentType ?? 'application/json' },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });

const pageview = (siteKey: string, extra: Record<string, unknown> = {}) => ({
  site_key: siteKey,
  name: 'pageview',
  url: 'https://shop.example.com/pricing?utm_source=newsletter&utm_medium=email',
  referrer: 'https://www.google.com/search?q=x',
  screen_width: 1440,
  ...extra,
});

const decode = (value: Buffer | null): EnrichedEventV1 =>
  enrichedEventV1.parse(JSON.parse(value!.toString()));

beforeAll(async () => {
  pool = createPool(await freshPostgres(), { max: 3 });
  geo = await openGeoDatabase();
  siteA = await createSite(pool);
  siteB = await createSite(pool);
  siteRules = await createSite(pool, {
    excluded_ips: ['203.0.113.0/24', '2001:db8::/32'],
    excluded_paths: ['/admin/**'],
    excluded_countries: ['DE'],
    allowed_hostnames: ['shop.example.com', '*.example.org'],
  });
});

afterAll(async () => {
  geo?.close();
  await pool?.end();
});

describe('ingest → Kafka', () => {
  it('answers 202 only after Kafka has the enriched event, keyed by site:visitor, without the IP', async () => {
    const h = await harness();
    const reader = await readTopic(stackEnv().KAFKA_BROKERS.split(','), h.topic);
    try {
      const res = await track(h.app, pageview(siteA.key, { props: { plan: 'pro', seats: 3 } }));
      expect(res.statusCode).toBe(202);
      expect(res.json()).toMatchObject({ accepted: 1 });
      const [message] = await waitFor(() => (reader.messages.length ? reader.messages : undefined));
      const raw = message!.value!.toString();
      expect(raw).not.toContain(US_IP);
      const event = decode(message!.value);
      expect(message!.key!.toString()).toBe(`${siteA.id}:${event.visitor_id}`);
      expect(event).toMatchObject({
        site_id: siteA.id,
        name: 'pageview',
        hostname: 'shop.example.com',
        pathname: '/pricing',
        referrer_domain: 'google.com',
        utm_source: 'newsletter',
        utm_medium: 'email',
        channel: 'Email',
        country: 'US',
        browser: 'Chrome',
        os: 'Windows',
        device: 'desktop',
        screen_width: 1440,
        props: { plan: 'pro', seats: '3' },
      });
      expect(event.event_id).toBe(res.json().event_id);
    } finally {
      await reader.stop();
      await h.close();
    }
  });

  it('keeps a visitor id for a day, and changes it across sites and days', async () => {
    const h = await harness();
    const reader = await readTopic(stackEnv().KAFKA_BROKERS.split(','), h.topic);
    try {
      h.clock.now = new Date('2026-03-01T10:00:00Z');
      await track(h.app, pageview(siteA.key));
      h.clock.now = new Date('2026-03-01T23:59:00Z');
      await track(h.app, pageview(siteA.key));
      await track(h.app, pageview(siteB.key));
      h.clock.now = new Date('2026-03-02T00:01:00Z');
      await track(h.app, pageview(siteA.key));
      const events = (await waitFor(() => (reader.messages.length >= 4 ? reader.messages : undefined))).map(
        (m) => decode(m.value),
      );
      const byTime = (site: string, at: string) =>
        events.find((e) => e.site_id === site && e.timestamp === at)!;
      const morning = byTime(siteA.id, '2026-03-01T10:00:00.000Z');
      const night = byTime(siteA.id, '2026-03-01T23:59:00.000Z');
      const otherSite = byTime(siteB.id, '2026-03-01T23:59:00.000Z');
      const nextDay = byTime(siteA.id, '2026-03-02T00:01:00.000Z');
      expect(night.visitor_id).toBe(morning.visitor_id);
      expect(otherSite.visitor_id).not.toBe(morning.visitor_id);
      expect(nextDay.visitor_id).not.toBe(morning.visitor_id);
    } finally {
      await reader.stop();
      await h.close();
    }
  });

  it('gives a batch one visitor and session per site, continued by later requests', async () => {
    const h = await harness();
    const reader = await readTopic(stackEnv().KAFKA_BROKERS.split(','), h.topic);
    try {
      const page = (site: string, path: string) => pageview(site, { url: `https://shop.example.com${path}` });
      const res = await h.app.inject({
        method: 'POST',
        url: '/api/v1/track/batch',
        remoteAddress: US_IP,
        headers: { 'user-agent': CHROME, 'content-type': 'application/json' },
        payload: JSON.stringify({
          events: [page(siteA.key, '/a1'), page(siteB.key, '/b1'), page(siteA.key, '/a2')],
        }),
      });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toMatchObject({ accepted: 3, dropped: 0 });
      await track(h.app, page(siteA.key, '/a3'));
      const events = (await waitFor(() => (reader.messages.length >= 4 ? reader.messages : undefined))).map(
        (m) => decode(m.value),
      );
      const at = (path: string) => events.find((e) => e.pathname === path)!;
      expect(at('/a1').site_id).toBe(siteA.id);
      expect(at('/b1').site_id).toBe(siteB.id);
      expect(at('/a2').session_id).toBe(at('/a1').session_id);
      expect(at('/a3').session_id).toBe(at('/a1').session_id);
      expect(at('/a2').visitor_id).toBe(at('/a1').visitor_id);
      expect(at('/b1').visitor_id).not.toBe(at('/a1').visitor_id);
      expect(at('/b1').session_id).not.toBe(at('/a1').session_id);
    } finally {
      await reader.stop();
      await h.close();
    }
  });

  it('continues a session while events come within the timeout, and starts a new one after', async () => {
    const h = await harness({ sessionTimeoutSeconds: 2 });
    const reader = await readTopic(stackEnv().KAFKA_BROKERS.split(','), h.topic);
    try {
      await track(h.app, pageview(siteA.key, { url: 'https://shop.example.com/1' }));
      await new Promise((r) => setTimeout(r, 1_000));
      await track(h.app, pageview(siteA.key, { url: 'https://shop.example.com/2' }));
      await new Promise((r) => setTimeout(r, 3_000));
      await track(h.app, pageview(siteA.key, { url: 'https://shop.example.com/3' }));
      const events = (await waitFor(() => (reader.messages.length >= 3 ? reader.messages : undefined))).map(
        (m) => decode(m.value),
      );
      const session = (path: string) => events.find((e) => e.pathname === path)!.session_id;
      expect(session('/2')).toBe(session('/1'));
      expect(session('/3')).not.toBe(session('/1'));
    } finally {
      await reader.stop();
      await h.close();
    }
  });

  it('drops what the site rules exclude, says why, and produces nothing for it', async () => {
    const h = await harness();
    const reader = await readTopic(stackEnv().KAFKA_BROKERS.split(','), h.topic);
    try {
      const cases: [Record<string, unknown>, { ip?: string; ua?: string }, string][] = [
        [pageview(siteRules.key), { ip: '203.0.113.9' }, 'excluded_ip'],
        [pageview(siteRules.key), { ip: '2001:db8::1' }, 'excluded_ip'],
        [pageview(siteRules.key, { url: 'https://shop.example.com/admin/users' }), {}, 'excluded_path'],
        [pageview(siteRules.key), { ip: '5.9.0.1' }, 'excluded_country'],
        [pageview(siteRules.key, { url: 'https://evil.example.net/' }), {}, 'hostname_not_allowed'],
        [
          pageview(siteRules.key),
          { ua: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' },
          'bot',
        ],
      ];
      for (const [body, opts, reason] of cases) {
        const res = await track(h.app, body, opts);
        expect(res.statusCode, reason).toBe(202);
        expect(res.json(), reason).toEqual({ accepted: 0, dropped: 1, reason });
      }
      const kept = await track(h.app, pageview(siteRules.key, { url: 'https://blog.example.org/post' }));
      expect(kept.json()).toMatchObject({ accepted: 1 });
      await waitFor(() => (reader.messages.length >= 1 ? true : undefined));
      await new Promise((r) => setTimeout(r, 500));
      expect(reader.messages.map((m) => decode(m.value).pathname)).toEqual(['/post']);
      const metrics = await h.app.inject({ url: '/metrics' });
      expect(metrics.body).toMatch(
        /tidemark_ingest_events_dropped_total\{reason="excluded_country"[^}]*\} 1/,
      );
    } finally {
      await reader.stop();
      await h.close();
    }
  });

  it('refuses bad input with the documented error and produces nothing for it', async () => {
    const h = await harness();
    const reader = await readTopic(stackEnv().KAFKA_BROKERS.split(','), h.topic);
    try {
      const longUrl = `https://shop.example.com/${'a'.repeat(3000)}`;
      const bigProps = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, 'v']));
      const single: [string, unknown, number, string, string?][] = [
        ['malformed JSON', '{"site_key": ', 400, 'invalid_request'],
        [
          'wrong types',
          { site_key: siteA.key, name: 5, url: 'https://x.example.com/' },
          422,
          'validation_failed',
          'name',
        ],
        ['missing url', { site_key: siteA.key, name: 'pageview' }, 422, 'validation_failed', 'url'],
        ['unknown field', { ...pageview(siteA.key), ip: '1.2.3.4' }, 422, 'validation_failed'],
        ['too many props', pageview(siteA.key, { props: bigProps }), 422, 'validation_failed', 'props'],
        [
          'long prop value',
          pageview(siteA.key, { props: { a: 'x'.repeat(600) } }),
          422,
          'validation_failed',
          'props.a',
        ],
        [
          'control characters',
          pageview(siteA.key, { name: 'sign\u0000up' }),
          422,
          'validation_failed',
          'name',
        ],
        ['very long URL', pageview(siteA.key, { url: longUrl }), 422, 'validation_failed', 'url'],
        [
          'javascript: URL',
          pageview(siteA.key, { url: 'javascript:alert(1)' }),
          422,
          'validation_failed',
          'url',
        ],
        ['unknown site', pageview('sk_doesnotexist0000'), 404, 'unknown_site'],
        ['oversize body', pageview(siteA.key, { padding: 'x'.repeat(70_000) }), 413, 'payload_too_large'],
      ];
      for (const [what, body, status, code, field] of single) {
        const res = await track(h.app, body);
        expect(res.statusCode, what).toBe(status);
        const error = res.json().error;
        expect(error.code, what).toBe(code);
        expect(error.message, what).toBeTruthy();
        if (field) expect(Object.keys(error.details ?? {}), what).toContain(field);
      }
      const xml = await track(h.app, '<event/>', { contentType: 'application/xml' });
      expect(xml.statusCode).toBe(415);
      expect(xml.json().error.code).toBe('unsupported_media_type');

      const batch = (events: unknown[]) =>
        h.app.inject({
          method: 'POST',
          url: '/api/v1/track/batch',
          remoteAddress: US_IP,
          headers: { 'user-agent': CHROME, 'content-type': 'application/json' },
          payload: JSON.stringify({ events }),
        });
      const tooMany = await batch(Array.from({ length: 101 }, () => pageview(siteA.key)));
      expect(tooMany.statusCode).toBe(422);
      expect(tooMany.json().error.details).toHaveProperty('events');
      const oneBad = await batch([pageview(siteA.key), pageview(siteA.key, { url: 'nope' })]);
      expect(oneBad.statusCode).toBe(422);
      expect(oneBad.json().error.details).toHaveProperty(['events.1.url']);
      const unknownInBatch = await batch([pageview(siteA.key), pageview('sk_doesnotexist0000')]);
      expect(unknownInBatch.statusCode).toBe(404);

      const good = await batch([pageview(siteA.key, { url: 'https://shop.example.com/ok' })]);
      expect(good.statusCode).toBe(202);
      expect(good.json()).toMatchObject({
        accepted: 1,
        dropped: 0,
        results: [{ index: 0, status: 'accepted' }],
      });
      await waitFor(() => (reader.messages.length >= 1 ? true : undefined));
      await new Promise((r) => setTimeout(r, 500));
      expect(reader.messages.map((m) => decode(m.value).pathname)).toEqual(['/ok']);
    } finally {
      await reader.stop();
      await h.close();
    }
  });

  it('accepts text/plain beacons as sendBeacon posts them, and answers CORS preflights', async () => {
    const h = await harness();
    try {
      const res = await track(h.app, JSON.stringify(pageview(siteA.key)), {
        contentType: 'text/plain;charset=UTF-8',
      });
      expect(res.statusCode).toBe(202);
      const preflight = await h.app.inject({
        method: 'OPTIONS',
        url: '/api/v1/track',
        headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST' },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('*');
    } finally {
      await h.close();
    }
  });
});

describe('ingest under faults', () => {
  it('answers no 202 while Kafka is down, and recovers without a restart when it returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-kafka-'));
    const [port, controllerPort] = await freePorts(2);
    const start = () =>
      startKafka({
        dataDir: dir,
        port: port!,
        controllerPort: controllerPort!,
        logFile: join(dir, 'broker.log'),
      });
    let broker = await start();
    const h = await harness({ brokers: [broker.url], ackTimeoutMs: 1_500 });
    try {
      expect((await track(h.app, pageview(siteA.key))).statusCode).toBe(202);
      await broker.stop();
      for (let i = 0; i < 3; i++) {
        const res = await track(h.app, pageview(siteA.key));
        expect(res.statusCode).toBe(503);
        expect(res.json().error.code).toBe('unavailable');
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      }
      expect((await h.app.inject({ url: '/readyz' })).statusCode).toBe(503);
      broker = await start();
      await waitFor(
        async () => ((await track(h.app, pageview(siteA.key))).statusCode === 202 ? true : undefined),
        { timeout: 30_000, interval: 500, message: 'ingest to accept events again' },
      );
    } finally {
      await h.close();
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps accepting events while Redis is down, and says so in /readyz', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-redis-'));
    const [port] = await freePorts(1);
    const redis = await ensureRedis({ url: `redis://127.0.0.1:${port}`, dataDir: dir, port: port! });
    const h = await harness({ redisUrl: redis.url });
    try {
      const first = await track(h.app, pageview(siteA.key));
      expect(first.statusCode, first.body).toBe(202);
      await redis.stop();
      const res = await track(h.app, pageview(siteA.key));
      expect(res.statusCode).toBe(202);
      const ready = await h.app.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json().checks.redis).toMatchObject({ ok: false, critical: false });
    } finally {
      await h.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
