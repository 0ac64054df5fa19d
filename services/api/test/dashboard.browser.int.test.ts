import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP_CHROME_UA, launchChromium, listen } from '../../../test/support/browser';
import { startPipeline, type RunningPipeline } from '../../../test/support/services';
import { REPO_ROOT } from '../../../infra/local/src/stack';
import { waitFor } from '../../../test/support/stack';
import { buildDashboard } from '../dashboard/build';

/**
 * The dashboard in headless Chromium against the real processes (api serving the Vite build,
 * ingest, consumer): a site created in the UI, its snippet on a local page, the visits showing up,
 * filtering by a source, changing the period, and the public dashboard seen signed out.
 * Screenshots at desktop and phone width land in `.test-artifacts/dashboard/`.
 */

const ARTIFACTS = join(REPO_ROOT, '.test-artifacts', 'dashboard');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** A second visitor: same address, another browser, so the visitor hash differs. */
const SAFARI_UA =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const REFERRER = 'https://news.example.org/';

/** Polls the page until the expectation holds: a page load and its API calls, on a busy machine. */
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

describe('dashboard in a browser', () => {
  let pipeline: RunningPipeline;
  let browser: Browser;
  let otherBrowser: Browser;
  let testSite: { server: Server; origin: string } | undefined;
  let snippet = '';

  beforeAll(async () => {
    await Promise.all([buildDashboard(), mkdir(ARTIFACTS, { recursive: true })]);
    // Limits out of the way: this suite drives the whole UI from one address in a minute.
    pipeline = await startPipeline(['api', 'consumer', 'ingest'], {
      RATE_LIMIT_PER_IP_PER_MINUTE: '100000',
      RATE_LIMIT_PER_TOKEN_PER_HOUR: '100000',
    });
    browser = await launchChromium({ userAgent: DESKTOP_CHROME_UA });
    otherBrowser = await launchChromium({ userAgent: SAFARI_UA });
    // The tracked site: two pages carrying the snippet the dashboard gave, once the test has it.
    testSite = await listen((req, res) => {
      const tag = snippet.replace('<script defer', '<script defer data-allow-local');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<!doctype html><html><head><title>Test page</title>${tag}</head><body><h1>${req.url}</h1></body></html>`,
      );
    });
  });

  afterAll(async () => {
    await browser?.close();
    await otherBrowser?.close();
    await new Promise((resolve) => (testSite ? testSite.server.close(resolve) : resolve(undefined)));
    await pipeline?.stop();
  });

  const api = () => pipeline.urls.api;
  /** A full-page screenshot once every panel has its answer. */
  const shoot = async (page: Page, name: string) => {
    await poll(() => page.locator('[aria-busy="true"]').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  /** Nothing wider than a phone: no sideways scrolling (a chart follows once it has resized). */
  const fitsWidth = (page: Page) =>
    poll(() =>
      page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth'),
    ).toBeLessThanOrEqual(0);
  /** The value of a headline metric, as the page shows it. */
  const stat = (page: Page, metric: string) => page.locator(`[data-metric="${metric}"] .stat-value`);

  const visit = async (context: BrowserContext, path: string, referer?: string) => {
    const page = await context.newPage();
    const beacon = page.waitForResponse((res) => res.url().endsWith('/api/v1/track'));
    await page.goto(`${testSite!.origin}${path}`, referer ? { referer } : {});
    expect((await beacon).status()).toBe(202);
    await page.close();
  };

  it('takes a new site from the snippet to shared, filtered numbers', async () => {
    const email = 'owner@example.com';
    const password = 'a long enough password';
    const signup = await fetch(`${api()}/api/v1/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password, name: 'Owner' }),
    });
    expect(signup.status).toBe(201);

    const owner = await browser.newContext({ viewport: DESKTOP });
    const page = await owner.newPage();
    const pageErrors: string[] = [];
    const watch = (p: Page) => {
      p.on('pageerror', (err) => pageErrors.push(err.message));
      // The Content-Security-Policy is strict: anything it blocks is a bug of the page.
      p.on('console', (msg) => {
        if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text()))
          pageErrors.push(msg.text());
      });
    };
    watch(page);

    // Signed out, the app sends us to the login page, which brings us back after signing in.
    await page.goto(`${api()}/sites`);
    await page.waitForURL(/\/login\?next=%2Fsites$/);
    await shoot(page, 'login-desktop');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${api()}/sites`);
    await poll(() => page.getByRole('heading', { name: 'Your sites' }).isVisible()).toBe(true);

    // A site made in the UI leads to its snippet.
    await page.getByRole('button', { name: 'Add a site' }).click();
    await page.getByLabel('Domain').fill('blog.example.com');
    await page.getByLabel('Name').fill('Example blog');
    await page.getByRole('button', { name: 'Add site' }).click();
    await page.waitForURL(/\/sites\/sk_[A-Za-z0-9]+\/settings$/);
    const siteKey = /\/sites\/(sk_[A-Za-z0-9]+)\//.exec(page.url())![1]!;
    snippet = (await page.locator('#tracker-snippet').textContent({ timeout: 10_000 })) ?? '';
    expect(snippet).toBe(
      `<script defer data-site="${siteKey}" src="${pipeline.urls.ingest}/js/script.js"></script>`,
    );
    await shoot(page, 'settings-desktop');

    // Two visitors: one from a referring site, one direct, on another page, in another browser.
    const first = await browser.newContext({ viewport: DESKTOP });
    const second = await otherBrowser.newContext({ viewport: DESKTOP });
    await visit(first, '/', REFERRER);
    await visit(first, '/about');
    await visit(second, '/pricing');
    await first.close();
    await second.close();

    // The dashboard shows them once the pipeline has carried them to ClickHouse. The events may
    // travel in different partitions, so two visitors can show before the first one's second
    // pageview has arrived: reload until both figures are there.
    const dashboard = `${api()}/sites/${siteKey}`;
    await page.goto(dashboard);
    await waitFor(
      async () => {
        const visitors = await stat(page, 'visitors').textContent();
        const pageviews = await stat(page, 'pageviews').textContent();
        if (visitors === '2' && pageviews === '3') return true;
        await page.reload();
        await page.locator('[data-metric="visitors"] .stat-value').waitFor();
        return undefined;
      },
      { timeout: 60_000, interval: 1_000, message: 'two visitors and three pageviews on the dashboard' },
    );
    const sources = page.locator('section', { has: page.getByRole('heading', { name: 'Sources' }) });
    await sources.getByRole('button', { name: 'Sources', exact: true }).click();
    await poll(() => page.url()).toContain('view_sources=referrer');
    const source = sources.locator('button.row-filter').first();
    await poll(() => source.textContent()).toBe('news.example.org');
    await poll(() => page.getByText('IP Geolocation by DB-IP').count()).toBe(1);
    await shoot(page, 'dashboard-desktop');
    await page.setViewportSize(PHONE);
    await fitsWidth(page);
    await shoot(page, 'dashboard-phone');
    await page.setViewportSize(DESKTOP);

    // The site list: a week of visitors per site, and the month's events.
    await page.goto(`${api()}/sites`);
    await poll(() => page.locator('.sparkline polyline').count()).toBe(1);
    await shoot(page, 'sites-desktop');
    await page.goBack();

    // Clicking a source filters everything by it: in the URL, in a chip, in the numbers.
    await source.click();
    await poll(() => page.url()).toContain('referrer=news.example.org');
    await poll(() => stat(page, 'visitors').textContent()).toBe('1');
    await poll(() => stat(page, 'pageviews').textContent()).toBe('2');
    await poll(() =>
      page.getByRole('button', { name: 'Remove filter: Source is news.example.org' }).count(),
    ).toBe(1);
    await shoot(page, 'dashboard-filtered-desktop');

    // Another period: the URL says so, the filter stays, the range shown changes.
    const rangeBefore = await page.locator('.period-range').textContent();
    await page.getByLabel('Period').selectOption('7d');
    await poll(() => page.url()).toContain('period=7d');
    expect(page.url()).toContain('referrer=news.example.org');
    await poll(() => page.locator('.period-range').textContent()).not.toBe(rangeBefore);
    await poll(() => stat(page, 'visitors').textContent()).toBe('1');

    // The link is the state: opened afresh, it shows the same.
    const link = page.url();
    await page.goto(link);
    await poll(() => stat(page, 'visitors').textContent()).toBe('1');
    expect(await page.getByLabel('Period').inputValue()).toBe('7d');

    // Settings forms call the CRUD routes: a goal (which the dashboard then converts against)
    // and a site API key, whose secret shows once.
    await page.goto(`${dashboard}/settings/goals`);
    await page.getByLabel('Name', { exact: true }).fill('Read about');
    await page.getByLabel('Completed by').selectOption('page');
    await page.getByLabel('Page path').fill('/about');
    await page.getByRole('button', { name: 'Add goal' }).click();
    await poll(() => page.getByRole('rowheader', { name: 'Read about' }).count()).toBe(1);
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Reporting');
    await page.getByRole('button', { name: 'Create key' }).click();
    await poll(() => page.locator('.secret-value').textContent()).toMatch(/^tmk_[0-9a-f]{12}_/);
    await page.setViewportSize(PHONE);
    await fitsWidth(page);
    await shoot(page, 'settings-api-keys-phone');
    await page.setViewportSize(DESKTOP);

    // Made public, the dashboard opens signed out, in a fresh context, at /share/{site_key}.
    await page.goto(`${dashboard}/settings`);
    await page.getByRole('button', { name: 'Make public' }).click();
    await poll(() => page.getByRole('button', { name: 'Make private' }).count()).toBe(1);
    const shareUrl = `${api()}/share/${siteKey}`;
    await poll(() => page.getByRole('link', { name: shareUrl }).count()).toBe(1);

    for (const [name, viewport] of [
      ['share-desktop', DESKTOP],
      ['share-phone', PHONE],
    ] as const) {
      const visitor = await browser.newContext({ viewport });
      const shared = await visitor.newPage();
      watch(shared);
      await shared.goto(shareUrl);
      await poll(() => stat(shared, 'visitors').textContent()).toBe('2');
      await poll(() => stat(shared, 'pageviews').textContent()).toBe('3');
      await fitsWidth(shared);
      const goals = shared.locator('section', { has: shared.getByRole('heading', { name: 'Goals' }) });
      await poll(() => goals.locator('tbody tr').first().textContent()).toBe('Read about1150.0%');
      expect(await shared.getByRole('link', { name: 'Settings' }).count()).toBe(0);
      expect(await shared.evaluate<number>('localStorage.length')).toBe(0);
      await shoot(shared, name);
      await visitor.close();
    }
    expect(pageErrors).toEqual([]);
    await owner.close();
  });
});
