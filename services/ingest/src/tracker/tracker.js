/*
 * Tidemark browser tracker, served minified by GET /js/script.js (budget: 2 KiB gzipped).
 *
 *   <script defer data-site="sk_..." src="https://stats.example.com/js/script.js"></script>
 *
 * Attributes: data-site (required); data-api (collector URL, default: this script's origin +
 * /api/v1/track); data-hash (the fragment is the route); data-heatmaps (send click positions);
 * data-allow-local (also track on local pages and automated browsers, for tests).
 *
 * Custom events: tidemark('signup', {props: {plan: 'pro'}, revenue: {amount, currency}, callback}).
 *
 * Choices:
 * - No cookies, no storage writes, no identifiers: the server counts visitors by a daily salted
 *   hash. The only storage read is the opt-out flag localStorage.tidemark_ignore === 'true',
 *   checked on every event so that setting it works without a reload.
 * - Pages on localhost, 127.x, [::1] or file:, and browsers driven by automation
 *   (navigator.webdriver), send nothing unless data-allow-local is present.
 * - Events go out as a text/plain body, by navigator.sendBeacon or else fetch with keepalive,
 *   so a cross-origin POST is a simple request (no CORS preflight) and survives unloading.
 * - SPA navigation: history.pushState and popstate (and hashchange with data-hash). replaceState
 *   is left alone: apps use it to rewrite state or query on the same page. A navigation that
 *   keeps the path (plus the fragment with data-hash) is not a new page view; a page restored
 *   from the back/forward cache is. An SPA page view's referrer is the previous page.
 * - Engagement is sent for the current page when it is hidden, unloaded or left by SPA
 *   navigation, as {time_ms: visible time since the last engagement event of that page,
 *   scroll_pct: deepest scroll so far}: the server sums time_ms and keeps the largest scroll_pct,
 *   so a lost last beacon loses only its slice.
 * - Outbound link clicks (another host) send 'Outbound Link: Click' and links to files send
 *   'File Download', both with link.url; middle clicks count, other buttons do not.
 * - data-heatmaps sends a 'heatmap_click' event per click with x, y relative to the whole page.
 * - The page URL goes without its fragment unless data-hash is set: fragments are anchors or
 *   client-side secrets (#access_token=...), not pages, so a fragment that reaches the
 *   collector is always a route. URLs are cut to the 2048 characters the collector accepts;
 *   non-http(s) referrers (app referrers such as android-app://) are sent as ''.
 */
(() => {
  const w = window;
  const d = document;
  const n = navigator;
  const l = location;
  const script = d.currentScript || d.querySelector('script[data-site]');
  const site = script && script.getAttribute('data-site');
  if (!site) return;

  const has = (name) => script.hasAttribute('data-' + name);
  const api = script.getAttribute('data-api') || new URL(script.src).origin + '/api/v1/track';
  const hashMode = has('hash');
  const heatmaps = has('heatmaps');
  const blocked =
    !has('allow-local') &&
    (/^(localhost|127(\.\d+){3}|\[::1\])$/.test(l.hostname) || l.protocol == 'file:' || n.webdriver);
  const cut = (url) => url.slice(0, 2048);
  const here = () => cut(hashMode ? l.href : l.href.split('#')[0]);
  const now = () => Date.now();

  let pagePath;
  let pageUrl;
  let pageReferrer;
  let visibleSince;
  let engagedMs;
  let maxScroll;
  let sentScroll;

  const ignored = () => {
    try {
      if (localStorage.tidemark_ignore == 'true') return true;
    } catch {
      // Storage can be off-limits (sandboxed frames, strict privacy modes): that is not an opt-out.
    }
    return blocked;
  };

  const send = (name, data, callback) => {
    if (!ignored()) {
      const body = JSON.stringify({
        site_key: site,
        name,
        url: data.url || here(),
        referrer: pageReferrer,
        screen_width: w.innerWidth,
        props: data.props,
        revenue: data.revenue,
        engagement: data.engagement,
        click: data.click,
        link: data.link,
      });
      if (!(n.sendBeacon && n.sendBeacon(api, body))) {
        fetch(api, { method: 'POST', body, keepalive: true }).catch(() => {});
      }
    }
    // Both transports outlive the page, so a callback that navigates away loses nothing.
    if (callback) callback();
  };

  const measureScroll = () => {
    const height = Math.max(d.documentElement.scrollHeight, d.body ? d.body.scrollHeight : 0);
    const pct = height ? Math.min(100, Math.round(((w.scrollY + w.innerHeight) / height) * 100)) : 100;
    if (pct > maxScroll) maxScroll = pct;
  };

  const addVisibleTime = () => {
    if (visibleSince) {
      const t = now();
      engagedMs += t - visibleSince;
      visibleSince = t;
    }
  };

  const sendEngagement = () => {
    if (pageUrl && (engagedMs > 0 || maxScroll > sentScroll)) {
      send('engagement', {
        url: pageUrl,
        engagement: { time_ms: Math.min(engagedMs, 864e5), scroll_pct: maxScroll },
      });
      engagedMs = 0;
      sentScroll = maxScroll;
    }
  };

  // Registered directly as a listener, so only a literal `true` forces a repeat of the same path.
  const pageview = (force) => {
    const path = l.pathname + (hashMode ? l.hash : '');
    if (force !== true && path == pagePath) return;
    addVisibleTime();
    sendEngagement();
    pageReferrer = pageUrl || (/^https?:/.test(d.referrer) ? cut(d.referrer) : '');
    pagePath = path;
    pageUrl = here();
    engagedMs = maxScroll = sentScroll = 0;
    visibleSince = d.visibilityState == 'visible' ? now() : 0;
    measureScroll();
    send('pageview', {});
  };

  const onClick = (e) => {
    if (e.type == 'auxclick' && e.button != 1) return;
    if (heatmaps && e.type == 'click') {
      const root = d.documentElement;
      const ratio = (v, size) => Math.round(Math.min(1, Math.max(0, v / (size || 1))) * 1e4) / 1e4;
      send('heatmap_click', {
        click: { x: ratio(e.pageX, root.scrollWidth), y: ratio(e.pageY, root.scrollHeight) },
      });
    }
    const link = e.target.closest && e.target.closest('a[href]');
    if (!link || !/^https?:$/.test(link.protocol)) return;
    const download =
      link.hasAttribute('download') ||
      /\.(pdf|xlsx?|docx?|pptx?|odt|ods|odp|txt|rtf|csv|epub|zip|rar|7z|gz|tgz|bz2|dmg|pkg|exe|msi|deb|rpm|apk|iso|mp3|wav|flac|mp4|mov|avi|wmv|mkv)$/i.test(
        link.pathname,
      );
    if (download || link.host != l.host) {
      send(download ? 'File Download' : 'Outbound Link: Click', { link: { url: cut(link.href) } });
    }
  };

  d.addEventListener('click', onClick, true);
  d.addEventListener('auxclick', onClick, true);
  w.addEventListener('scroll', measureScroll, { passive: true });
  // Also on pagehide: the page may go to the back/forward cache, where no time must be counted.
  const hide = () => {
    addVisibleTime();
    visibleSince = 0;
    measureScroll();
    sendEngagement();
  };
  d.addEventListener('visibilitychange', () => {
    if (d.visibilityState != 'visible') hide();
    else visibleSince = visibleSince || now();
  });
  w.addEventListener('pagehide', hide);
  w.addEventListener('pageshow', (e) => {
    if (e.persisted) pageview(true);
  });

  // Calls made before this script ran (or while the page is prerendered) wait in `tidemark.q`,
  // filled by the optional inline stub:
  //   window.tidemark = window.tidemark || function () { (tidemark.q = tidemark.q || []).push(arguments) }
  const queued = (w.tidemark && w.tidemark.q) || [];
  const track = (name, options) => {
    options = options || {};
    send(name, { props: options.props, revenue: options.revenue }, options.callback);
  };
  w.tidemark = (...args) => queued.push(args);

  const start = () => {
    const pushState = history.pushState;
    history.pushState = function (...args) {
      pushState.apply(this, args);
      pageview();
    };
    w.addEventListener('popstate', pageview);
    if (hashMode) w.addEventListener('hashchange', pageview);
    w.tidemark = track;
    pageview();
    for (const args of queued) track(...args);
  };
  if (d.prerendering) d.addEventListener('prerenderingchange', start, { once: true });
  else start();
})();
