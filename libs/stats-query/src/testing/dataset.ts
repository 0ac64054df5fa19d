import { randomUUID } from 'node:crypto';
import { sessionIdAt } from '@tidemark/events';
import { DAY_MS } from '../calendar';

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
      const source = pick(SOURCES);
      let t = from.getTime() + Math.floor(random() * (span - 3 * 3_600_000));
      const sessionId = sessionIdAt(new Date(t), seed * 100_000 + sessionSeq++);
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

export interface SiteTrafficOptions {
  siteId: string;
  /** Visits start in `[from, to)`; no event is later than `to`. */
  from: Date;
  to: Date;
  seed: number;
  /** Mean visits started per day. */
  visitsPerDay: number;
  /** How many distinct visitors make those visits (some come back often, most rarely). */
  visitors: number;
}

const TRAFFIC_SOURCES = [
  { referrer: '', referrer_domain: '', channel: 'Direct' },
  { referrer: 'https://www.google.com/', referrer_domain: 'google.com', channel: 'Organic Search' },
  { referrer: 'https://www.bing.com/', referrer_domain: 'bing.com', channel: 'Organic Search' },
  {
    referrer: 'https://t.co/x',
    referrer_domain: 't.co',
    channel: 'Organic Social',
    utm_source: 'twitter',
    utm_medium: 'social',
    utm_campaign: 'launch',
  },
  {
    referrer: 'https://news.ycombinator.com/item',
    referrer_domain: 'news.ycombinator.com',
    channel: 'Referral',
  },
  {
    referrer: '',
    referrer_domain: '',
    channel: 'Email',
    utm_source: 'newsletter',
    utm_medium: 'email',
    utm_campaign: 'spring sale',
    utm_content: 'header',
  },
  {
    referrer: 'https://www.google.com/',
    referrer_domain: 'google.com',
    channel: 'Paid Search',
    utm_source: 'google',
    utm_medium: 'cpc',
    utm_campaign: 'brand',
    utm_content: 'ad-1',
    utm_term: 'web analytics',
  },
];
const SITE_PAGES = [
  '/',
  '/',
  '/pricing',
  '/blog',
  '/blog/a',
  '/blog/b_c',
  '/blog/2025/recap',
  '/docs/start',
  '/docs/50%_off',
  '/about',
];
const SITE_PLACES = [
  ...PLACES,
  { country: 'GB', region: 'England', city: 'London' },
  { country: '', region: '', city: '' },
];
const SITE_AGENTS = [
  ...AGENTS,
  { device: 'Desktop', browser: 'Chrome', os: 'Windows' },
  { device: 'Desktop', browser: 'Safari', os: 'macOS' },
];

/**
 * A year or more of one site's traffic, shaped like what ingest produces, for tests that compare
 * the stats api with a computation of their own: visitors keep their place and device, and their
 * id changes at each UTC midnight as ingest's does (a visit running past it goes on as a new one,
 * as under ingest); a visit's first event carries its referrer, channel and utm values (later ones
 * come from the site itself); visits hold pageviews on several hostnames, signups and downloads
 * with properties, outbound clicks, heatmap clicks and scroll depth; session ids are made from the
 * visit's start as ingest makes them. Events of a visit are at least a millisecond apart, so which
 * event is first or last never depends on how ClickHouse orders event ids; visits still start
 * anywhere, across local midnights and clock changes. Deterministic for a seed.
 */
export function generateSiteTraffic(opts: SiteTrafficOptions): EventInput[] {
  const random = prng(opts.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  const people = Array.from({ length: opts.visitors }, (_, i) => ({
    id: (10_000_000_000n * BigInt(opts.seed) + BigInt(i + 1)).toString(),
    place: pick(SITE_PLACES),
    agent: pick(SITE_AGENTS),
  }));
  const rows: EventInput[] = [];
  const end = opts.to.getTime();
  for (let day = opts.from.getTime(); day < end; day += DAY_MS) {
    // Busier on weekdays, with a slow drift over the year so periods differ.
    const weekday = new Date(day).getUTCDay();
    const level = (weekday === 0 || weekday === 6 ? 0.6 : 1.1) * (0.7 + 0.6 * random());
    const visits = Math.round(opts.visitsPerDay * level);
    for (let k = 0; k < visits; k++) {
      let t = day + Math.floor(random() * DAY_MS);
      if (t >= end) continue;
      // Regulars come back often: the square skews picks towards the first visitors.
      const person = people[Math.floor(random() ** 2 * people.length)]!;
      const source = pick(TRAFFIC_SOURCES);
      const sessionBits = Math.floor(random() * 2 ** 32);
      let sessionId = sessionIdAt(new Date(t), sessionBits);
      let utcDay = Math.floor(t / DAY_MS);
      const steps = random() < 0.4 ? 1 : 2 + Math.floor(random() * 7);
      for (let i = 0; i < steps && t < end; i++) {
        // Past UTC midnight ingest hashes the visitor under the new day's salt, finds no running
        // session for that id and starts one.
        if (Math.floor(t / DAY_MS) !== utcDay) {
          utcDay = Math.floor(t / DAY_MS);
          sessionId = sessionIdAt(new Date(t), (sessionBits ^ utcDay) >>> 0);
        }
        const page = pick(SITE_PAGES);
        const base: Record<string, unknown> = {
          event_id: `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
          visitor_id: (BigInt(person.id) * 100_000n + BigInt(utcDay)).toString(),
          session_id: sessionId,
          hostname: page.startsWith('/docs')
            ? 'docs.example.com'
            : random() < 0.1
              ? 'www.example.com'
              : 'example.com',
          pathname: page,
          ...person.place,
          ...person.agent,
          ...(i === 0 ? source : {}),
          timestamp: new Date(t),
        };
        // A visit mostly begins with a pageview; a few begin with an event (a tab left open past
        // the session timeout), so some visits have no entry page and bounces are not "one event".
        const roll = i === 0 ? (random() < 0.97 ? 0 : 0.95) : random();
        if (roll < 0.62) rows.push(eventRow(opts.siteId, base as { timestamp: Date }));
        else if (roll < 0.7) {
          rows.push(
            eventRow(opts.siteId, {
              ...(base as { timestamp: Date }),
              name: 'signup',
              props:
                random() < 0.5
                  ? { plan: 'pro', seats: String(1 + Math.floor(random() * 5)) }
                  : { plan: 'free' },
            }),
          );
        } else if (roll < 0.76) {
          rows.push(
            eventRow(opts.siteId, {
              ...(base as { timestamp: Date }),
              name: 'download',
              props: { file: pick(['guide.pdf', 'price list.csv']) },
            }),
          );
        } else if (roll < 0.84) {
          rows.push(
            eventRow(opts.siteId, {
              ...(base as { timestamp: Date }),
              name: 'Outbound Link: Click',
              link_url: pick(['https://github.com/tidemark', 'https://docs.rs/x']),
            }),
          );
        } else if (roll < 0.93) {
          rows.push(
            eventRow(opts.siteId, {
              ...(base as { timestamp: Date }),
              name: 'click',
              pathname: '/pricing',
              click_x: Math.round(random() * 1000) / 1000,
              click_y: Math.round(random() * 1000) / 1000,
            }),
          );
        } else {
          rows.push(
            eventRow(opts.siteId, {
              ...(base as { timestamp: Date }),
              name: 'engagement',
              scroll_pct: Math.round(random() * 100),
              engagement_time_ms: Math.floor(random() * 120_000),
            }),
          );
        }
        // Never the same millisecond twice in a visit; under the 30-minute session timeout.
        t += 1 + Math.floor(random() ** 2 * 25 * 60_000);
      }
    }
  }
  return rows;
}
