import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { buildTracker } from './build';

type Listener = (event: Record<string, unknown>) => void;

interface FakePageOptions {
  href?: string;
  attributes?: Record<string, string>;
  referrer?: string;
  storage?: Record<string, string>;
  queued?: unknown[][];
  /** Whether the tag carries data-allow-local; default true, as the fake page is not a real visit. */
  allowLocal?: boolean;
}

/** Just enough of a browser for the tracker to run in a node:vm context and record its beacons. */
function runOnFakePage(code: string, options: FakePageOptions = {}) {
  const attributes: Record<string, string> = { 'data-site': 'sk_test12345', ...options.attributes };
  if (options.allowLocal !== false) attributes['data-allow-local'] = '';
  const beacons: { url: string; body: Record<string, unknown> }[] = [];
  const listeners = new Map<string, Listener[]>();
  const on = (type: string, fn: Listener) => listeners.set(type, [...(listeners.get(type) ?? []), fn]);
  const location = new URL(options.href ?? 'https://shop.example.com/start');
  const document = {
    currentScript: {
      src: 'https://stats.example.net/js/script.js',
      getAttribute: (name: string) => attributes[name] ?? null,
      hasAttribute: (name: string) => name in attributes,
    },
    referrer: options.referrer ?? '',
    visibilityState: 'visible',
    documentElement: { scrollHeight: 2000, scrollWidth: 1000 },
    body: { scrollHeight: 2000 },
    addEventListener: on,
  };
  const window: Record<string, unknown> = {
    document,
    location,
    navigator: {
      sendBeacon: (url: string, body: string) => {
        beacons.push({ url, body: JSON.parse(body) });
        return true;
      },
    },
    history: {
      pushState(_state: unknown, _title: string, url: string) {
        location.href = new URL(url, location.href).href;
      },
    },
    localStorage: { ...options.storage },
    innerWidth: 1280,
    innerHeight: 800,
    scrollY: 0,
    URL,
    addEventListener: on,
  };
  if (options.queued) window.tidemark = Object.assign(() => undefined, { q: options.queued });
  window.window = window;
  runInNewContext(code, window);
  const dispatch = (type: string, event: Record<string, unknown> = {}) =>
    (listeners.get(type) ?? []).forEach((fn) => fn({ type, ...event }));
  return { window, document, beacons, dispatch, tidemark: window.tidemark as (...args: unknown[]) => void };
}

describe('buildTracker', () => {
  it('stays within the 2 KiB gzipped budget of API.md', async () => {
    const { gzipBytes } = await buildTracker();
    expect(gzipBytes).toBeGreaterThan(0);
    expect(gzipBytes).toBeLessThanOrEqual(2048);
  });

  it('produces code that parses', async () => {
    const { code } = await buildTracker();
    expect(() => new Function(code)).not.toThrow();
  });

  it('builds once and derives a strong ETag from the code', async () => {
    const first = await buildTracker();
    expect(await buildTracker()).toBe(first);
    expect(first.version).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(first.etag).toBe(`"${first.version}"`);
  });

  it('exposes window.tidemark and sends the page view first, then queued calls', async () => {
    const { code } = await buildTracker();
    const page = runOnFakePage(code, {
      referrer: 'https://news.ycombinator.com/item?id=1',
      queued: [['signup', { props: { plan: 'pro' }, revenue: { amount: 9.5, currency: 'EUR' } }]],
    });
    expect(typeof page.tidemark).toBe('function');
    expect(page.beacons.map((b) => b.url)).toEqual([
      'https://stats.example.net/api/v1/track',
      'https://stats.example.net/api/v1/track',
    ]);
    expect(page.beacons[0]?.body).toEqual({
      site_key: 'sk_test12345',
      name: 'pageview',
      url: 'https://shop.example.com/start',
      referrer: 'https://news.ycombinator.com/item?id=1',
      screen_width: 1280,
    });
    expect(page.beacons[1]?.body).toMatchObject({
      name: 'signup',
      props: { plan: 'pro' },
      revenue: { amount: 9.5, currency: 'EUR' },
    });
  });

  it('counts pushState navigation once per path, with the previous page as referrer', async () => {
    const { code } = await buildTracker();
    const page = runOnFakePage(code);
    const history = page.window.history as { pushState(s: unknown, t: string, u: string): void };
    history.pushState(null, '', '/pricing');
    history.pushState(null, '', '/pricing?tab=2');
    const pageviews = page.beacons.filter((b) => b.body.name === 'pageview');
    expect(pageviews.map((b) => b.body.url)).toEqual([
      'https://shop.example.com/start',
      'https://shop.example.com/pricing',
    ]);
    expect(pageviews[1]?.body.referrer).toBe('https://shop.example.com/start');
  });

  it('sends engagement for the page when it is hidden', async () => {
    const { code } = await buildTracker();
    const page = runOnFakePage(code);
    page.document.visibilityState = 'hidden';
    page.dispatch('visibilitychange');
    const engagement = page.beacons.find((b) => b.body.name === 'engagement');
    expect(engagement?.body).toMatchObject({
      url: 'https://shop.example.com/start',
      engagement: { scroll_pct: 40 },
    });
  });

  it('sends the page URL without its fragment unless data-hash is set', async () => {
    const { code } = await buildTracker();
    const href = 'https://app.example.com/#/settings?x=1';
    expect(runOnFakePage(code, { href }).beacons[0]?.body.url).toBe('https://app.example.com/');
    const hashed = runOnFakePage(code, { href, attributes: { 'data-hash': '' } });
    expect(hashed.beacons[0]?.body.url).toBe(href);
  });

  it('uses data-api when given', async () => {
    const { code } = await buildTracker();
    const page = runOnFakePage(code, { attributes: { 'data-api': 'https://collect.example.org/t' } });
    expect(page.beacons[0]?.url).toBe('https://collect.example.org/t');
  });

  it('sends nothing when the visitor opted out, but still runs callbacks', async () => {
    const { code } = await buildTracker();
    const page = runOnFakePage(code, { storage: { tidemark_ignore: 'true' } });
    let called = false;
    page.tidemark('signup', { callback: () => (called = true) });
    expect(page.beacons).toEqual([]);
    expect(called).toBe(true);
  });

  it.each(['http://localhost:3000/', 'http://127.0.0.1:8080/a'])(
    'sends nothing from %s unless data-allow-local is set',
    async (href) => {
      const { code } = await buildTracker();
      expect(runOnFakePage(code, { href, allowLocal: false }).beacons).toEqual([]);
      expect(runOnFakePage(code, { href }).beacons).toHaveLength(1);
    },
  );
});
