import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi, signupOwner, type ApiInit } from '../support/api';
import { launchChromium, listen } from '../support/browser';
import { startPipeline, type RunningPipeline } from '../support/services';
import { waitFor } from '../support/stack';
import { startWebhookReceiver, verifyWebhooks, type WebhookReceiver } from '../support/webhooks';

/**
 * Visitors in a real browser, end to end: headless Chromium browses a local shop whose pages carry
 * the tracker tag, arriving from different places, moving between pages and signing up. The stats
 * api then shows exactly those visitors, visits, page views, sources and goal conversions, and
 * every goal completion and goal alert reaches a webhook receiver, signed. Every service is a real
 * process of its own: ingest → Kafka → consumer → ClickHouse → api, and the worker for webhooks.
 */

const SHOP = 'shop.tidemark.test';
/** Links to the shop, and carries a copy of the shop's tag: the site's allowed hostnames keep it out. */
const BLOG = 'blog.tidemark.test';
/** As short as ingest allows, so that a visitor can come back in a visit of its own within the test. */
const SESSION_TIMEOUT_MS = 60_000;

/**
 * Every visitor comes from 127.0.0.1, so the user agent is what tells them apart (visitor ids hash
 * site, IP and user agent): one browser per visit, launched with its visitor's user agent.
 */
const VISITORS = {
  firefox: {
    userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0',
    browser: 'Firefox',
  },
  safari: {
    userAgent:
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    browser: 'Safari',
  },
  android: {
    userAgent:
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36',
    browser: 'Chrome',
  },
} as const;
type VisitorName = keyof typeof VISITORS;

interface Visit {
  visitor: VisitorName;
  /** From a page we do not serve (its URL as the referrer), by the blog's link to the shop's home, or typed in. */
  arrival: { referer: string } | 'blog link' | 'direct';
  /** The visit's source and channel as the stats should name them. */
  source: string;
  channel: string;
  /** Shop pages in order, each after the first reached by its link in the menu. */
  pages: string[];
  /** On the last page (/signup), signs up for this plan, which leads to /welcome. */
  signup?: string;
}

const VISITS: Visit[] = [
  {
    visitor: 'firefox',
    arrival: { referer: 'https://news.ycombinator.com/' },
    source: 'news.ycombinator.com',
    channel: 'Organic Social',
    pages: ['/', '/pricing', '/', '/signup'],
    signup: 'team',
  },
  { visitor: 'android', arrival: 'blog link', source: BLOG, channel: 'Referral', pages: ['/'] },
  {
    visitor: 'safari',
    arrival: { referer: 'https://www.google.com/' },
    source: 'google.com',
    channel: 'Organic Search',
    pages: ['/pricing', '/signup'],
    signup: 'solo',
  },
  // The first visitor again once their session has timed out: a second visit, not a new visitor.
  { visitor: 'firefox', arrival: 'direct', source: '', channel: 'Direct', pages: ['/pricing'] },
];

type Goal = { name: string; event_name: string } | { name: string; page_path: string };
const GOALS: Goal[] = [
  { name: 'Signup', event_name: 'signup' },
  { name: 'Viewed pricing', page_path: '/pricing' },
];

interface Tracked {
  name: string;
  pathname: string;
  props: Record<string, string>;
}

/** The events a visit makes the tracker send, engagement aside. */
function trackedEvents(visit: Visit): Tracked[] {
  const events = visit.pages.map((pathname) => ({ name: 'pageview', pathname, props: {} }));
  if (visit.signup) {
    events.push(
      { name: 'signup', pathname: '/signup', props: { plan: visit.signup } },
      { name: 'pageview', pathname: '/welcome', props: {} },
    );
  }
  return events;
}

const completes = (goal: Goal, e: Pick<Tracked, 'name' | 'pathname'>) =>
  'event_name' in goal ? e.name === goal.event_name : e.name === 'pageview' && e.pathname === goal.page_path;

const pageviewsOf = (visit: Visit) => trackedEvents(visit).filter((e) => e.name === 'pageview');
const visitorsOf = (visits: readonly Visit[]) => new Set(visits.map((v) => v.visitor)).size;
/** A percentage with one decimal, as the api rounds rates. */
const percent = (part: number, whole: number) => Math.round((1000 * part) / whole) / 10;

interface Row {
  value: string;
  visitors: number;
  [metric: string]: string | number;
}

/** By code unit, like ClickHouse orders strings and like `Array.prototype.sort` with no comparator. */
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Rows as the api orders them for `sort=visitors.desc`: most visitors first, then by value. */
const byVisitors = (rows: Row[]) =>
  rows.sort((a, b) => b.visitors - a.visitors || compareText(a.value, b.value));

/**
 * A breakdown's visitors, visits and page views per value, given the values each visit has and
 * how many of its page views go with each.
 */
function traffic(valuesOf: (visit: Visit) => Map<string, number>): Row[] {
  const rows = new Map<string, { visits: Visit[]; pageviews: number }>();
  for (const visit of VISITS) {
    for (const [value, pageviews] of valuesOf(visit)) {
      const row = rows.get(value) ?? { visits: [], pageviews: 0 };
      row.visits.push(visit);
      row.pageviews += pageviews;
      rows.set(value, row);
    }
  }
  return byVisitors(
    [...rows].map(([value, r]) => ({
      value,
      visitors: visitorsOf(r.visits),
      visits: r.visits.length,
      pageviews: r.pageviews,
    })),
  );
}

/** A property of the whole visit: each visit has one value, with all its page views. */
const ofVisit = (valueOf: (visit: Visit) => string) => (visit: Visit) =>
  new Map([[valueOf(visit), pageviewsOf(visit).length]]);

function expectedStats() {
  const events = VISITS.flatMap((visit) => trackedEvents(visit).map((e) => ({ visit, ...e })));
  const pageviews = events.filter((e) => e.name === 'pageview');
  return {
    aggregate: {
      visitors: visitorsOf(VISITS),
      visits: VISITS.length,
      pageviews: pageviews.length,
      bounce_rate: percent(VISITS.filter((v) => pageviewsOf(v).length === 1).length, VISITS.length),
    },
    pages: traffic((visit) => {
      const counts = new Map<string, number>();
      for (const e of pageviewsOf(visit)) counts.set(e.pathname, (counts.get(e.pathname) ?? 0) + 1);
      return counts;
    }),
    sources: traffic(ofVisit((v) => v.source)),
    channels: traffic(ofVisit((v) => v.channel)),
    browsers: traffic(ofVisit((v) => VISITORS[v.visitor].browser)),
    goals: byVisitors(
      GOALS.map((goal) => {
        const visits = events.filter((e) => completes(goal, e)).map((e) => e.visit);
        return {
          value: goal.name,
          events: visits.length,
          visitors: visitorsOf(visits),
          conversion_rate: percent(visitorsOf(visits), visitorsOf(VISITS)),
        };
      }),
    ),
  };
}

describe('visitors in a browser → stats and signed goal webhooks', () => {
  let pipeline: RunningPipeline;
  let receiver: WebhookReceiver;
  let site: { server: Server; origin: string };
  let shopOrigin: string;
  let blogOrigin: string;
  /** The tracker tag, once the site exists. */
  let tag = '';

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    pipeline = await startPipeline(['api', 'consumer', 'worker', 'ingest'], {
      SESSION_TIMEOUT_MINUTES: String(SESSION_TIMEOUT_MS / 60_000),
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      // The test polls several stats routes at once from one address until they settle.
      RATE_LIMIT_PER_IP_PER_MINUTE: '100000',
      RATE_LIMIT_PER_TOKEN_PER_HOUR: '100000',
    });
    site = await listen((req, res) => {
      const host = (req.headers.host ?? '').split(':')[0];
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const html =
        host === SHOP ? shopPage(path) : host === BLOG && path === '/post' ? blogPost() : undefined;
      if (html === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    });
    const { port } = new URL(site.origin);
    shopOrigin = `http://${SHOP}:${port}`;
    blogOrigin = `http://${BLOG}:${port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => (site ? site.server.close(resolve) : resolve(undefined)));
    await pipeline?.stop();
    await receiver?.close();
  });

  // The inline stub queues calls made before the deferred tracker runs, as the tracker documents.
  const head = (title: string) => `<title>${title}</title>
    <script>window.tidemark = window.tidemark || function () { (tidemark.q = tidemark.q || []).push(arguments) }</script>
    ${tag}`;

  function shopPage(path: string): string | undefined {
    if (!['/', '/pricing', '/signup', '/welcome'].includes(path)) return undefined;
    const form =
      path === '/signup'
        ? `<select id="plan"><option>solo</option><option>team</option></select>
           <button id="signup">Create my account</button>
           <script>
             document.getElementById('signup').addEventListener('click', () =>
               tidemark('signup', {
                 props: { plan: document.getElementById('plan').value },
                 callback: () => location.assign('/welcome'),
               }));
           </script>`
        : '';
    return `<!doctype html><html><head>${head(`Shop ${path}`)}</head><body>
      <nav><a href="/">Home</a> <a href="/pricing">Pricing</a> <a href="/signup">Sign up</a></nav>
      <h1>${path}</h1>${form}</body></html>`;
  }

  const blogPost = () => `<!doctype html><html><head>${head('Blog')}</head><body>
    <p>We tried a new shop.</p><a id="shop" href="${shopOrigin}/">Have a look</a></body></html>`;

  const isBeacon = (req: Request, name: string, path: string) => {
    if (!req.url().endsWith('/api/v1/track')) return false;
    const sent = JSON.parse(req.postData() ?? '{}') as { name?: string; url?: string };
    return sent.name === name && sent.url !== undefined && new URL(sent.url).pathname === path;
  };

  /** Resolves once ingest has answered the tracker's beacon for this event on this page. */
  const accepted = (page: Page, name: string, path: string) =>
    page
      .waitForResponse((res) => isBeacon(res.request(), name, path))
      .then((res) => expect(res.status()).toBe(202));

  /**
   * Resolves once the beacon is sent. For a beacon whose page then navigates away: it goes on, but
   * the browser reports it to Playwright as aborted, so its answer cannot be awaited.
   */
  const sent = (page: Page, name: string, path: string) =>
    page.waitForRequest((req) => isBeacon(req, name, path));

  async function browse(visit: Visit): Promise<void> {
    const browser = await launchChromium({
      userAgent: VISITORS[visit.visitor].userAgent,
      hosts: [SHOP, BLOG],
    });
    try {
      const page = await browser.newPage();
      const [landing, ...next] = visit.pages;
      const landed = accepted(page, 'pageview', landing!);
      if (visit.arrival === 'blog link') {
        // Answered before the visitor moves on: its absence from the numbers is then the rule's doing.
        const copied = accepted(page, 'pageview', '/post');
        await page.goto(`${blogOrigin}/post`);
        await copied;
        await page.click('#shop');
      } else {
        await page.goto(`${shopOrigin}${landing}`, visit.arrival === 'direct' ? {} : visit.arrival);
      }
      await landed;
      for (const path of next) {
        const viewed = accepted(page, 'pageview', path);
        await page.click(`nav a[href="${path}"]`);
        await viewed;
      }
      if (visit.signup) {
        const beacons = [sent(page, 'signup', '/signup'), accepted(page, 'pageview', '/welcome')];
        await page.selectOption('#plan', visit.signup);
        await page.click('#signup');
        await Promise.all(beacons);
      }
    } finally {
      await browser.close();
    }
  }

  const api = (path: string, init?: ApiInit) => callApi(pipeline.urls.api, path, init);

  it('counts exactly the visitors, visits, page views, sources and goals, and signs every goal webhook', async () => {
    const token = await signupOwner(pipeline.urls.api, { email: 'owner@example.com' });
    const created = await api('/api/v1/sites', {
      method: 'POST',
      token,
      body: { domain: SHOP, name: 'Shop', settings: { allowed_hostnames: [SHOP] } },
    });
    expect(created.status).toBe(201);
    const { id: siteId, site_key: siteKey } = created.body.data as { id: string; site_key: string };
    const base = `/api/v1/sites/${siteId}`;
    for (const goal of GOALS) {
      expect((await api(`${base}/goals`, { method: 'POST', token, body: goal })).status).toBe(201);
    }
    const alert = await api(`${base}/alerts`, {
      method: 'POST',
      token,
      body: {
        name: 'New signup',
        trigger: { goal_name: 'Signup' },
        template: { subject: 'New {{goal_name}} on {{site_domain}}', message: 'Say hello.' },
        // Every signup fires: the default cooldown would hold back all but the first.
        cooldown_minutes: 0,
      },
    });
    expect(alert.status).toBe(201);
    const alertId = alert.body.data.id as string;
    const hook = await api(`${base}/webhooks`, {
      method: 'POST',
      token,
      body: { url: receiver.url, events: ['goal.completed', 'alert.triggered'] },
    });
    expect(hook.status).toBe(201);
    const { id: hookId, secret } = hook.body.data as { id: string; secret: string };

    // The tag the dashboard shows, plus data-allow-local: the tracker stays silent in a browser
    // driven by automation (navigator.webdriver) unless told otherwise.
    const { ingest_url: ingestUrl } = (await api('/api/v1/config')).body.data as { ingest_url: string };
    tag = `<script defer data-site="${siteKey}" data-allow-local src="${ingestUrl}/js/script.js"></script>`;

    // Visitor ids hash a salt of the UTC day: visits on both sides of midnight would make the
    // returning visitor a new one. The visits take about a session timeout plus a few seconds each.
    const visitsTakeMs = SESSION_TIMEOUT_MS + VISITS.length * 15_000;
    const untilMidnight = 86_400_000 - (Date.now() % 86_400_000);
    if (untilMidnight < visitsTakeMs) await sleep(untilMidnight + 1_000);

    const lastSeen = new Map<VisitorName, number>();
    for (const visit of VISITS) {
      const last = lastSeen.get(visit.visitor);
      // Ingest forgets a session a timeout after its last event; a few seconds more for any
      // beacon still on its way when the browser closed.
      if (last !== undefined) await sleep(last + SESSION_TIMEOUT_MS + 5_000 - Date.now());
      await browse(visit);
      lastSeen.set(visit.visitor, Date.now());
    }

    const period = `site_id=${siteId}&period=30d`;
    const get = async (route: string) => {
      const res = await api(`/api/v1/stats/${route}&${period}`, { token });
      if (res.status !== 200) throw new Error(`${route}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };
    const breakdown = async (property: string, metrics: string) =>
      (await get(`breakdown?property=${property}&metrics=${metrics}&sort=visitors.desc`)).results as Row[];
    const stats = async () => ({
      aggregate: (await get('aggregate?metrics=visitors,visits,pageviews,bounce_rate')).metrics,
      pages: await breakdown('page', 'visitors,visits,pageviews'),
      sources: await breakdown('referrer', 'visitors,visits,pageviews'),
      channels: await breakdown('channel', 'visitors,visits,pageviews'),
      browsers: await breakdown('browser', 'visitors,visits,pageviews'),
      goals: await breakdown('goal', 'events,visitors,conversion_rate'),
    });
    const expected = expectedStats();
    await expect.poll(stats, { timeout: 90_000, interval: 1_000 }).toEqual(expected);

    // The stored events (engagement aside) are those the visits made, with their ids, which
    // the webhooks must name.
    const exported = await fetch(
      `${pipeline.urls.api}/api/v1/stats/export?format=ndjson&type=events&${period}`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(exported.status).toBe(200);
    const stored = (await exported.text())
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Tracked & { event_id: string; hostname: string })
      .filter((e) => e.name !== 'engagement');
    const eventKey = (e: Tracked) => `${e.name} ${e.pathname} ${JSON.stringify(e.props)}`;
    const sorted = <T extends Tracked>(events: T[]) =>
      events.sort((a, b) => compareText(eventKey(a), eventKey(b)));
    expect(
      sorted(stored.map(({ name, hostname, pathname, props }) => ({ name, hostname, pathname, props }))),
    ).toEqual(sorted(VISITS.flatMap(trackedEvents).map((e) => ({ ...e, hostname: SHOP }))));

    const completions = stored.flatMap((e) =>
      GOALS.filter((goal) => completes(goal, e)).map((goal) => ({
        goal_name: goal.name,
        event_id: e.event_id,
      })),
    );
    const signupIds = completions
      .filter((c) => c.goal_name === 'Signup')
      .map((c) => c.event_id)
      .sort();
    const deliveries = completions.length + signupIds.length;
    await waitFor(
      () =>
        new Set(receiver.received.map((r) => r.headers['webhook-id'])).size >= deliveries ? true : undefined,
      { timeout: 60_000, interval: 250, message: `${deliveries} webhooks at the receiver` },
    );
    // At least once: a receiver deduplicates on webhook-id.
    const webhooks = [...new Map(verifyWebhooks(receiver.received, secret).map((w) => [w.id, w])).values()];
    const byEvent = (a: Record<string, unknown>, b: Record<string, unknown>) =>
      compareText(
        `${String(a.event_id)} ${String(a.goal_name)}`,
        `${String(b.event_id)} ${String(b.goal_name)}`,
      );
    const ofType = (type: string) =>
      webhooks
        .filter((w) => w.type === type)
        .map((w) => w.data)
        .sort(byEvent);
    expect(webhooks).toHaveLength(deliveries);
    expect(ofType('goal.completed')).toEqual(
      completions.map((c) => ({ site_id: siteId, ...c, completed_at: expect.any(String) })).sort(byEvent),
    );
    expect(ofType('alert.triggered')).toEqual(
      signupIds.map((eventId) =>
        expect.objectContaining({
          site_id: siteId,
          alert_id: alertId,
          event_id: eventId,
          subject: `New Signup on ${SHOP}`,
          message: 'Say hello.',
        }),
      ),
    );

    const logged = await waitFor(
      async () => {
        const res = await api(`${base}/webhooks/${hookId}/deliveries?limit=100`, { token });
        const data = res.body.data as Array<{ id: string; status: string }>;
        return data.length === deliveries && data.every((d) => d.status === 'succeeded') ? data : undefined;
      },
      { timeout: 30_000, interval: 250, message: 'every delivery succeeded in the api' },
    );
    expect(logged.map((d) => d.id).sort()).toEqual(webhooks.map((w) => w.id).sort());
    const history = await api(`${base}/alerts/history?alert_id=${alertId}`, { token });
    expect((history.body.data as Array<{ event_id: string }>).map((h) => h.event_id).sort()).toEqual(
      signupIds,
    );

    // Still exactly so once everything downstream has happened: nothing came late or twice.
    expect(await stats()).toEqual(expected);
  }, 420_000);
});
