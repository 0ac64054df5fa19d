import { randomBytes, randomUUID } from 'node:crypto';
import { enrichedEventV1, sessionIdAt, type EnrichedEventV1 } from '@tidemark/events';

/**
 * Realistic traffic for the benchmarks: the message shape is `enrichedEventV1` (validated on the
 * first event of every generator, so a contract change breaks the benchmark loudly rather than
 * feeding the consumer dead letters), with the spread of values real sites produce.
 */

const pick = <T>(values: readonly T[], i: number) => values[i % values.length] as T;

const PAGES = [
  '/',
  '/pricing',
  '/blog/launch',
  '/blog/how-we-count',
  '/docs',
  '/docs/api',
  '/signup',
  '/about',
];
const SOURCES = [
  { referrer: '', referrer_domain: '', channel: 'Direct', utm_source: '', utm_medium: '', utm_campaign: '' },
  {
    referrer: 'https://www.google.com/',
    referrer_domain: 'google.com',
    channel: 'Organic Search',
    utm_source: '',
    utm_medium: '',
    utm_campaign: '',
  },
  {
    referrer: 'https://news.ycombinator.com/',
    referrer_domain: 'news.ycombinator.com',
    channel: 'Referral',
    utm_source: 'hn',
    utm_medium: 'social',
    utm_campaign: 'launch',
  },
  {
    referrer: 'https://www.bing.com/',
    referrer_domain: 'bing.com',
    channel: 'Organic Search',
    utm_source: '',
    utm_medium: '',
    utm_campaign: '',
  },
];
const PLACES = [
  { country: 'DE', region: 'DE-BE', city: 'Berlin' },
  { country: 'US', region: 'US-CA', city: 'San Francisco' },
  { country: 'IN', region: 'IN-MH', city: 'Mumbai' },
  { country: 'NP', region: 'NP-BA', city: 'Kathmandu' },
  { country: 'BR', region: 'BR-SP', city: 'São Paulo' },
  { country: '', region: '', city: '' },
];
const AGENTS = [
  { device: 'Desktop', browser: 'Chrome', browser_version: '130', os: 'Windows', os_version: '10' },
  { device: 'Mobile', browser: 'Safari', browser_version: '18', os: 'iOS', os_version: '18.1' },
  { device: 'Desktop', browser: 'Firefox', browser_version: '132', os: 'Linux', os_version: '' },
  { device: 'Tablet', browser: 'Chrome', browser_version: '129', os: 'Android', os_version: '14' },
];

const randomU64 = () => randomBytes(8).readBigUInt64BE().toString();

/**
 * Visits of `eventsPerVisit` events each over `sites`, timestamped within the `spreadMs` before
 * `now` (so they fall in the raw-retention window and spread over several rollup buckets). Mostly
 * pageviews, with custom events carrying props, some revenue and some outbound clicks.
 */
export function* enrichedEvents(opts: {
  sites: readonly string[];
  now?: number;
  spreadMs?: number;
  eventsPerVisit?: number;
}): Generator<EnrichedEventV1> {
  const now = opts.now ?? Date.now();
  const spread = opts.spreadMs ?? 2 * 3600_000;
  const perVisit = opts.eventsPerVisit ?? 5;
  let checked = false;
  for (let visit = 0; ; visit++) {
    const siteId = pick(opts.sites, visit * 7 + (visit >> 3));
    const visitorId = randomU64();
    const source = pick(SOURCES, visit);
    const place = pick(PLACES, visit * 5);
    const agent = pick(AGENTS, visit * 3);
    let at = now - spread + ((visit * 7_919) % spread);
    const sessionId = sessionIdAt(new Date(at), randomBytes(4).readUInt32BE());
    for (let i = 0; i < perVisit; i++) {
      at = Math.min(now, at + (i === 0 ? 0 : 2_000 + ((visit * 31 + i * 17) % 90) * 1_000));
      const kind =
        (visit + i) % 13 === 5 ? 'signup' : (visit + i) % 7 === 3 ? 'Outbound Link: Click' : 'pageview';
      const first = i === 0;
      const event: EnrichedEventV1 = {
        v: 1,
        event_id: randomUUID(),
        site_id: siteId,
        timestamp: new Date(at).toISOString(),
        name: kind,
        visitor_id: visitorId,
        session_id: sessionId,
        hostname: 'www.example.com',
        pathname: pick(PAGES, visit + i * 3),
        referrer: first ? source.referrer : '',
        referrer_domain: first ? source.referrer_domain : '',
        channel: first ? source.channel : 'Direct',
        utm_source: first ? source.utm_source : '',
        utm_medium: first ? source.utm_medium : '',
        utm_campaign: first ? source.utm_campaign : '',
        utm_content: '',
        utm_term: '',
        ...place,
        ...agent,
        screen_width: agent.device === 'Mobile' ? 390 : 1440,
        props: kind === 'signup' ? { plan: pick(['free', 'pro', 'team'], visit) } : {},
        revenue_amount: kind === 'signup' && visit % 3 === 1 ? 29 : null,
        revenue_currency: kind === 'signup' && visit % 3 === 1 ? 'EUR' : '',
        engagement_time_ms: first ? 0 : ((visit * 13 + i) % 120) * 1_000,
        scroll_pct: first ? 0 : (visit * 11 + i * 7) % 101,
        click_x: kind === 'Outbound Link: Click' ? 0.42 : null,
        click_y: kind === 'Outbound Link: Click' ? 0.73 : null,
        link_url: kind === 'Outbound Link: Click' ? `https://partner-${visit % 5}.example.org/` : '',
      };
      if (!checked) {
        enrichedEventV1.parse(event);
        checked = true;
      }
      yield event;
    }
  }
}

const USER_AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0',
];

/** A browser's user agent for the i-th visitor. */
export const userAgent = (i: number) => pick(USER_AGENTS, i);

/** A public IPv4 address for the i-th visitor (GeoIP finds most of them). */
export const visitorIp = (i: number) =>
  `${pick([81, 94, 103, 177, 188, 203], i)}.${(i * 37) % 250}.${(i * 11) % 250}.${1 + (i % 250)}`;

/** A tracker beacon as `POST /api/v1/track(/batch)` takes it, with the client's own event id. */
export function trackerEvent(siteKey: string, i: number, eventId: string = randomUUID()) {
  return {
    site_key: siteKey,
    name: 'pageview',
    url: `https://bench.example.com${pick(PAGES, i)}?utm_source=${pick(['', 'newsletter', 'hn'], i)}`,
    referrer: pick(['', 'https://www.google.com/', 'https://news.ycombinator.com/'], i),
    screen_width: 1440,
    event_id: eventId,
  };
}
