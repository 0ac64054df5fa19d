import { randomUUID } from 'node:crypto';

/** A deterministic PRNG (mulberry32), so a failing dataset can be reproduced from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type EventInput = Record<string, unknown> & { timestamp: string; name: string; session_id: string };

const BLANK = {
  hostname: 'example.com',
  pathname: '/',
  referrer: '',
  referrer_domain: '',
  channel: 'Direct',
  utm_source: '',
  utm_medium: '',
  utm_campaign: '',
  utm_content: '',
  utm_term: '',
  country: '',
  region: '',
  city: '',
  device: 'Desktop',
  browser: 'Firefox',
  browser_version: '140',
  os: 'Linux',
  os_version: '',
  screen_width: 1280,
  props: {},
  revenue_amount: null,
  revenue_currency: '',
  engagement_time_ms: 0,
  scroll_pct: 0,
  click_x: null,
  click_y: null,
  link_url: '',
};

/** A full `events` row (JSONEachRow) with defaults for what a test does not care about. */
export function eventRow(
  siteId: string,
  fields: Partial<Record<string, unknown>> & { timestamp: Date },
): EventInput {
  return {
    ...BLANK,
    event_id: randomUUID(),
    site_id: siteId,
    name: 'pageview',
    visitor_id: '1',
    session_id: '1',
    ...fields,
    timestamp: fields.timestamp.toISOString().replace('T', ' ').replace('Z', ''),
  } as EventInput;
}

const PLACES = [
  { country: 'DE', region: 'Berlin', city: 'Berlin' },
  { country: 'DE', region: 'Bavaria', city: 'Munich' },
  { country: 'FR', region: 'Ile-de-France', city: 'Paris' },
  { country: 'US', region: 'Illinois', city: 'Springfield' },
  { country: 'US', region: 'Missouri', city: 'Springfield' },
  { country: 'NP', region: 'Bagmati', city: 'Kathmandu' },
];
const AGENTS = [
  { device: 'Desktop', browser: 'Firefox', os: 'Linux' },
  { device: 'Mobile', browser: 'Safari', os: 'iOS' },
  { device: 'Mobile', browser: 'Chrome', os: 'Android' },
  { device: 'Tablet', browser: 'Safari', os: 'iPadOS' },
];
const SOURCES = [
  { referrer_domain: '', channel: 'Direct', utm_source: '' },
  { referrer_domain: 'google.com', channel: 'Organic Search', utm_source: '' },
  { referrer_domain: 't.co', channel: 'Organic Social', utm_source: 'twitter' },
  { referrer_domain: 'news.ycombinator.com', channel: 'Referral', utm_source: 'it\'s "quoted"' },
];
const PAGES = ['/', '/blog/a', '/blog/b_c', '/pricing', '/docs/50%_off', '/blog'];

/**
 * A site's traffic over `[from, to)`: visitors with several visits each, visits of pageviews,
 * signups (with a `plan` prop), outbound clicks, heatmap clicks and scroll depth. Geo and device
 * are fixed per visitor; referrer, channel and utm are on the first event of a visit only, as
 * ingest sees them (later pageviews come from the site itself), so visit-level and event-level
 * values differ. Some visits start late in the evening and run past midnight.
 */
export function generateTraffic(
  siteId: string,
  from: Date,
  to: Date,
  seed: number,
  visitors = 80,
): EventInput[] {
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  // Event ids from the seed too: they break ties between events of the same millisecond.
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  const eventRowOf = (fields: Partial<Record<string, unknown>> & { timestamp: Date }) =>
    eventRow(siteId, { event_id: `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`, ...fields });
  const rows: EventInput[] = [];
  const span = to.getTime() - from.getTime();
  let sessionSeq = 0;
  for (let v = 0; v < visitors; v++) {
    const visitorId = (18_000_000_000_000_000_000n + BigInt(seed * 1000 + v)).toString();
    const place = pick(PLACES);
    const agent = pick(AGENTS);
    const visits = 1 + Math.floor(random() * 4);
    for (let s = 0; s < visits; s++) {
      const sessionId = (9_000_000_000_000_000_000n + BigInt(seed * 100_000 + sessionSeq++)).toString();
      const source = pick(SOURCES);
      let t = from.getTime() + Math.floor(random() * (span - 3 * 3_600_000));
      const steps = random() < 0.35 ? 1 : 2 + Math.floor(random() * 6);
      for (let i = 0; i < steps; i++) {
        const first = i === 0;
        const base = {
          visitor_id: visitorId,
          session_id: sessionId,
          ...place,
          ...agent,
          ...(first ? source : {}),
          utm_medium: first && source.utm_source ? 'social' : '',
        };
        const roll = random();
        const page = pick(PAGES);
        if (first || roll < 0.6) rows.push(eventRowOf({ ...base, timestamp: new Date(t), pathname: page }));
        else if (roll < 0.72) {
          rows.push(
            eventRowOf({
              ...base,
              timestamp: new Date(t),
              name: 'signup',
              pathname: page,
              props: { plan: random() < 0.5 ? 'pro' : "free'n\\easy" },
            }),
          );
        } else if (roll < 0.82) {
          rows.push(
            eventRowOf({
              ...base,
              timestamp: new Date(t),
              name: 'Outbound Link: Click',
              pathname: page,
              link_url: pick(['https://github.com/x', 'https://docs.rs/y']),
            }),
          );
        } else if (roll < 0.92) {
          rows.push(
            eventRowOf({
              ...base,
              timestamp: new Date(t),
              name: 'click',
              pathname: '/pricing',
              click_x: Math.round(random() * 1000) / 1000,
              click_y: Math.round(random() * 1000) / 1000,
            }),
          );
        } else {
          rows.push(
            eventRowOf({
              ...base,
              timestamp: new Date(t),
              name: 'engagement',
              pathname: '/pricing',
              scroll_pct: Math.round(random() * 100),
              engagement_time_ms: Math.floor(random() * 60_000),
            }),
          );
        }
        // Mostly minutes apart, sometimes the same millisecond (ties are broken by event id).
        t += random() < 0.1 ? 0 : Math.floor(random() * 25 * 60_000);
      }
    }
  }
  return rows;
}
