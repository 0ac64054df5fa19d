import type { IncomingMessage, Server } from 'node:http';
import { trackEventInput } from '@tidemark/events';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, listen } from '../../../../test/support/browser';
import { buildTracker } from './build';

/**
 * The minified tracker in headless Chromium against a fake collector that records beacons. The
 * page and the collector listen on different ports, so every beacon is a real cross-origin POST.
 * This checks the tracker alone; ingest's own end-to-end test covers the real service. Page
 * scripts are passed as strings because the repository compiles without the DOM library.
 */
const SITE_KEY = 'sk_browsertest01';

interface Beacon {
  method: string;
  contentType: string;
  cookie: string;
  body: Record<string, unknown>;
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

const pageHtml = (collector: string, attributes: string) => `<!doctype html>
<html><head><meta charset="utf-8">
<script>
  window.tidemark = window.tidemark || function () { (tidemark.q = tidemark.q || []).push(arguments) };
  tidemark('early', { props: { queued: true } });
</script>
<script defer data-site="${SITE_KEY}" data-allow-local ${attributes} src="${collector}/js/script.js"></script>
</head><body style="margin:0">
  <div style="height:3000px">
    <a id="outbound" href="https://example.org/partner?x=1">partner</a>
    <a id="download" href="/files/report.pdf">report</a>
    <button id="spot" style="position:absolute;left:100px;top:300px">spot</button>
  </div>
  <script>
    // The page stops its own navigation; the tracker listens in the capture phase and must still see the click.
    document.addEventListener('click', (e) => e.preventDefault());
  </script>
</body></html>`;

describe('tracker in headless Chromium', () => {
  let browser: Browser;
  let collector: Server;
  let site: Server;
  let collectorOrigin: string;
  let siteOrigin: string;
  const beacons: Beacon[] = [];

  beforeAll(async () => {
    const { code } = await buildTracker();
    ({ server: collector, origin: collectorOrigin } = await listen(async (req, res) => {
      if (req.method === 'GET' && req.url === '/js/script.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
        return;
      }
      if (req.url === '/api/v1/track') {
        const body = await readBody(req);
        beacons.push({
          method: req.method ?? '',
          contentType: req.headers['content-type'] ?? '',
          cookie: req.headers.cookie ?? '',
          body: req.method === 'POST' ? JSON.parse(body) : {},
        });
        res.writeHead(202, { 'access-control-allow-origin': '*', 'content-type': 'application/json' });
        res.end('{"accepted":1}');
        return;
      }
      res.writeHead(404).end();
    }));
    ({ server: site, origin: siteOrigin } = await listen((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/blank') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><p>bye</p>');
        return;
      }
      const attributes = ['heatmaps', 'hash']
        .filter((flag) => url.searchParams.has(flag))
        .map((flag) => `data-${flag}`)
        .join(' ');
      res.writeHead(200, { 'content-type': 'text/html' }).end(pageHtml(collectorOrigin, attributes));
    }));
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    collector?.close();
    site?.close();
  });

  const find = (predicate: (body: Record<string, unknown>) => boolean) =>
    beacons.find((b) => b.method === 'POST' && predicate(b.body));

  const waitForBeacon = async (predicate: (body: Record<string, unknown>) => boolean) => {
    await expect.poll(() => find(predicate), { timeout: 10_000, interval: 50 }).toBeDefined();
    return find(predicate)!.body;
  };

  const open = async (path: string): Promise<Page> => {
    const page = await browser.newPage();
    await page.goto(`${siteOrigin}${path}`);
    return page;
  };

  it('tracks a visit: page view, queued and custom events, SPA navigation, clicks and engagement', async () => {
    const page = await open('/start?utm_source=newsletter');
    const pageview = await waitForBeacon((b) => b.name === 'pageview');
    expect(pageview).toMatchObject({
      site_key: SITE_KEY,
      url: `${siteOrigin}/start?utm_source=newsletter`,
      referrer: '',
    });
    expect(pageview.screen_width).toBeGreaterThan(0);
    expect(await waitForBeacon((b) => b.name === 'early')).toMatchObject({ props: { queued: true } });

    await page.evaluate("history.pushState({}, '', '/app/pricing')");
    const second = await waitForBeacon(
      (b) => b.name === 'pageview' && String(b.url).endsWith('/app/pricing'),
    );
    expect(second.referrer).toBe(`${siteOrigin}/start?utm_source=newsletter`);
    await waitForBeacon(
      (b) => b.name === 'engagement' && String(b.url).endsWith('/start?utm_source=newsletter'),
    );

    await page.evaluate("history.pushState({}, '', '/app/pricing?tab=annual')");
    await page.evaluate(
      "tidemark('signup', { props: { plan: 'pro' }, revenue: { amount: 49, currency: 'EUR' } })",
    );
    expect(await waitForBeacon((b) => b.name === 'signup')).toMatchObject({
      url: `${siteOrigin}/app/pricing?tab=annual`,
      props: { plan: 'pro' },
      revenue: { amount: 49, currency: 'EUR' },
    });

    await page.click('#outbound');
    expect(await waitForBeacon((b) => b.name === 'Outbound Link: Click')).toMatchObject({
      link: { url: 'https://example.org/partner?x=1' },
    });
    await page.click('#download');
    expect(await waitForBeacon((b) => b.name === 'File Download')).toMatchObject({
      link: { url: `${siteOrigin}/files/report.pdf` },
    });

    await page.mouse.wheel(0, 1500);
    await expect.poll(() => page.evaluate<number>('window.scrollY')).toBeGreaterThan(0);
    await page.goto(`${siteOrigin}/blank`);
    const engagement = await waitForBeacon(
      (b) => b.name === 'engagement' && String(b.url).endsWith('/app/pricing'),
    );
    const { time_ms, scroll_pct } = engagement.engagement as { time_ms: number; scroll_pct: number };
    expect(time_ms).toBeGreaterThan(0);
    expect(scroll_pct).toBeGreaterThan(50);
    expect(scroll_pct).toBeLessThanOrEqual(100);

    expect(beacons.filter((b) => b.body.name === 'pageview')).toHaveLength(2);
    await page.close();
  });

  it('sends simple cross-origin requests: text/plain, no preflight, no cookies, no storage', async () => {
    const page = await open('/plain');
    await waitForBeacon((b) => b.name === 'pageview' && String(b.url).endsWith('/plain'));
    expect(beacons.some((b) => b.method === 'OPTIONS')).toBe(false);
    expect(beacons.every((b) => b.contentType.startsWith('text/plain'))).toBe(true);
    expect(beacons.every((b) => b.cookie === '')).toBe(true);
    expect(await page.evaluate('[document.cookie, localStorage.length, sessionStorage.length]')).toEqual([
      '',
      0,
      0,
    ]);
    await page.close();
  });

  it('honours the opt-out flag, read on every event', async () => {
    const page = await browser.newPage();
    await page.addInitScript("localStorage.setItem('tidemark_ignore', 'true')");
    await page.goto(`${siteOrigin}/opted-out`);
    await page.waitForFunction("typeof tidemark === 'function' && !tidemark.q");
    await page.evaluate(
      "tidemark('ignored-event'); localStorage.removeItem('tidemark_ignore'); tidemark('control-event')",
    );
    // Beacons from one page leave in order: once the later one is in, the earlier ones would be too.
    await waitForBeacon((b) => b.name === 'control-event');
    expect(find((b) => b.name === 'ignored-event')).toBeUndefined();
    expect(find((b) => b.name === 'pageview' && String(b.url).endsWith('/opted-out'))).toBeUndefined();
    await page.close();
  });

  it('sends page-relative click positions with data-heatmaps', async () => {
    const page = await open('/heat?heatmaps');
    await waitForBeacon((b) => b.name === 'pageview' && String(b.url).includes('/heat'));
    await page.click('#spot');
    const click = (await waitForBeacon((b) => b.name === 'heatmap_click')).click as { x: number; y: number };
    expect(click.x).toBeGreaterThan(0);
    expect(click.x).toBeLessThan(1);
    expect(click.y).toBeGreaterThan(0.09);
    expect(click.y).toBeLessThan(0.12);
    await page.close();
  });

  it('counts fragment routes as page views with data-hash', async () => {
    const page = await open('/spa?hash');
    await waitForBeacon((b) => b.name === 'pageview' && String(b.url).endsWith('/spa?hash'));
    await page.evaluate("location.hash = '#/account'");
    await waitForBeacon((b) => b.name === 'pageview' && String(b.url).endsWith('/spa?hash#/account'));
    // Chromium fires both popstate and hashchange for this navigation: still one page view.
    await page.evaluate("tidemark('after-hash')");
    await waitForBeacon((b) => b.name === 'after-hash');
    expect(
      beacons.filter((b) => b.body.name === 'pageview' && String(b.body.url).endsWith('#/account')),
    ).toHaveLength(1);
    await page.close();
  });

  it('only ever sent bodies that the collector schema accepts', () => {
    const posts = beacons.filter((b) => b.method === 'POST');
    expect(posts.length).toBeGreaterThan(5);
    for (const { body } of posts) expect(trackEventInput.safeParse(body).error?.issues).toBeUndefined();
  });
});
