/**
 * An independent computation of the stats API's answers over the events a test generated, for
 * the oracle test. It is written from API.md and docs/stats.md, not from the SQL: plain loops over
 * events and visits, periods from `Intl` and date arithmetic of its own, rounding as ClickHouse's
 * `round` does it (half to even on the binary value). Nothing here imports `@tidemark/stats-query`.
 */

const HOUR = 3_600_000;
const DAY = 86_400_000;

export interface OracleEvent {
  ts: number;
  name: string;
  visitor: string;
  session: string;
  hostname: string;
  pathname: string;
  referrer_domain: string;
  channel: string;
  utm_source: string;
  utm_medium: string;
  utm_campaign: string;
  utm_content: string;
  utm_term: string;
  country: string;
  region: string;
  city: string;
  device: string;
  browser: string;
  os: string;
  props: Record<string, string>;
  link_url: string;
  click_x: number | null;
  click_y: number | null;
  scroll_pct: number;
}

export interface Visit {
  session: string;
  visitor: string;
  start: number;
  end: number;
  pageviews: number;
  events: OracleEvent[];
  attrs: Record<string, string>;
}

export interface Goal {
  name: string;
  event_name?: string;
  page_path?: string;
}

export interface OracleSite {
  id: string;
  timezone: string;
  events: OracleEvent[];
  visits: Visit[];
  goals: Goal[];
  firstEvent: number;
}

/** Events as the test generated them (the `events` rows) become the oracle's site. */
export function oracleSite(
  id: string,
  timezone: string,
  rows: ReadonlyArray<Record<string, unknown>>,
  goals: Goal[],
): OracleSite {
  const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  const events: OracleEvent[] = rows.map((r) => ({
    ts: Date.parse(`${str(r.timestamp).replace(' ', 'T')}Z`),
    name: str(r.name),
    visitor: str(r.visitor_id),
    session: str(r.session_id),
    hostname: str(r.hostname),
    pathname: str(r.pathname),
    referrer_domain: str(r.referrer_domain),
    channel: str(r.channel),
    utm_source: str(r.utm_source),
    utm_medium: str(r.utm_medium),
    utm_campaign: str(r.utm_campaign),
    utm_content: str(r.utm_content),
    utm_term: str(r.utm_term),
    country: str(r.country),
    region: str(r.region),
    city: str(r.city),
    device: str(r.device),
    browser: str(r.browser),
    os: str(r.os),
    props: (r.props ?? {}) as Record<string, string>,
    link_url: str(r.link_url),
    click_x: r.click_x === null || r.click_x === undefined ? null : Number(r.click_x),
    click_y: r.click_y === null || r.click_y === undefined ? null : Number(r.click_y),
    scroll_pct: Number(r.scroll_pct ?? 0),
  }));
  events.sort((a, b) => a.ts - b.ts);
  const bySession = new Map<string, OracleEvent[]>();
  for (const e of events) {
    const list = bySession.get(e.session) ?? [];
    list.push(e);
    bySession.set(e.session, list);
  }
  const visits: Visit[] = [];
  for (const [session, evs] of bySession) {
    const first = evs[0]!;
    const pageviews = evs.filter((e) => e.name === 'pageview');
    visits.push({
      session,
      visitor: first.visitor,
      start: first.ts,
      end: evs[evs.length - 1]!.ts,
      pageviews: pageviews.length,
      events: evs,
      attrs: {
        entry_page: pageviews[0]?.pathname ?? '',
        exit_page: pageviews[pageviews.length - 1]?.pathname ?? '',
        referrer: first.referrer_domain,
        channel: first.channel,
        utm_source: first.utm_source,
        utm_medium: first.utm_medium,
        utm_campaign: first.utm_campaign,
        utm_content: first.utm_content,
        utm_term: first.utm_term,
        country: first.country,
        region: first.region,
        city: first.city,
        device: first.device,
        browser: first.browser,
        os: first.os,
      },
    });
  }
  return { id, timezone, events, visits, goals, firstEvent: events[0]!.ts };
}

/* ---------- calendar ---------- */

const fmt = new Map<string, Intl.DateTimeFormat>();
function parts(tz: string, ms: number) {
  let f = fmt.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    fmt.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, x.value]));
  return { y: Number(p.year), m: Number(p.month), d: Number(p.day), h: Number(p.hour), mi: Number(p.minute) };
}

export function localDate(tz: string, ms: number): string {
  const p = parts(tz, ms);
  return `${String(p.y).padStart(4, '0')}-${String(p.m).padStart(2, '0')}-${String(p.d).padStart(2, '0')}`;
}

function offset(tz: string, ms: number): number {
  const p = parts(tz, ms);
  const wall = Date.UTC(p.y, p.m - 1, p.d, p.h, p.mi);
  return wall - Math.floor(ms / 60_000) * 60_000;
}

/** The instant of a local wall time (the zones used here never skip midnight). */
function wallInstant(tz: string, date: string, hour = 0, minute = 0): number {
  const wall = Date.parse(`${date}T00:00:00Z`) + hour * HOUR + minute * 60_000;
  let t = wall;
  for (let i = 0; i < 3; i++) t = wall - offset(tz, t);
  return t;
}

/** The instant a local date begins. */
export const midnight = (tz: string, date: string) => wallInstant(tz, date);

export const addDays = (date: string, n: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);

const weekday = (date: string) => (new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7; // Monday 0

function addMonths(date: string, n: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const index = y * 12 + m - 1 + n;
  const ty = Math.floor(index / 12);
  const tm = (index % 12) + 1;
  const last = new Date(Date.UTC(ty, tm, 0)).getUTCDate();
  return `${ty}-${String(tm).padStart(2, '0')}-${String(Math.min(d, last)).padStart(2, '0')}`;
}

export interface Period {
  preset: string;
  from: string;
  to: string;
  start: number;
  end: number;
}

const days = (preset: string, tz: string, from: string, to: string): Period => ({
  preset,
  from,
  to,
  start: midnight(tz, from),
  end: midnight(tz, addDays(to, 1)),
});

/** API.md's periods, computed with nothing but Intl and the calendar. */
export function period(
  site: OracleSite,
  preset: string,
  now: number,
  custom?: { from: string; to: string },
): Period {
  const tz = site.timezone;
  const today = localDate(tz, now);
  switch (preset) {
    case 'today':
      return days(preset, tz, today, today);
    case 'yesterday':
      return days(preset, tz, addDays(today, -1), addDays(today, -1));
    case '7d':
      return days(preset, tz, addDays(today, -6), today);
    case '30d':
      return days(preset, tz, addDays(today, -29), today);
    case '12m':
      return days(preset, tz, addDays(today, -364), today);
    case 'wtd':
      return days(preset, tz, addDays(today, -weekday(today)), today);
    case 'mtd':
      return days(preset, tz, `${today.slice(0, 8)}01`, today);
    case 'ytd':
      return days(preset, tz, `${today.slice(0, 5)}01-01`, today);
    case 'month': {
      const first = addMonths(`${today.slice(0, 8)}01`, -1);
      return days(preset, tz, first, addDays(`${today.slice(0, 8)}01`, -1));
    }
    case 'all':
      return days(preset, tz, localDate(tz, site.firstEvent), today);
    case 'custom':
      return days(preset, tz, custom!.from, custom!.to);
    case '24h': {
      // Every zone used here has whole hours on its local clock (+05:45 included).
      const off = offset(tz, now);
      const end = now - ((((now + off) % HOUR) + HOUR) % HOUR) + HOUR;
      const start = end - 24 * HOUR;
      return { preset, from: localDate(tz, start), to: localDate(tz, end - 1), start, end };
    }
  }
  throw new Error(`unknown preset ${preset}`);
}

/** `compare`: the same number of days before, or the same dates a year earlier. */
export function comparison(site: OracleSite, p: Period, mode: string): Period {
  const tz = site.timezone;
  if (p.preset === '24h') {
    // The 24 hours before, or the same wall times a year earlier.
    const yearBefore = (t: number) => {
      const w = parts(tz, t);
      return wallInstant(tz, addMonths(localDate(tz, t), -12), w.h, w.mi);
    };
    const [start, end] =
      mode === 'previous_period' ? [p.start - 24 * HOUR, p.start] : [yearBefore(p.start), yearBefore(p.end)];
    return { preset: p.preset, from: localDate(tz, start), to: localDate(tz, end - 1), start, end };
  }
  const n = Math.round((Date.parse(p.to) - Date.parse(p.from)) / DAY) + 1;
  if (mode === 'previous_period') return days(p.preset, tz, addDays(p.from, -n), addDays(p.from, -1));
  return days(p.preset, tz, addMonths(p.from, -12), addMonths(p.to, -12));
}

/** Bucket starts of a timeseries: local hours, days, Mondays or firsts of months, the first clamped. */
export function bucketStarts(site: OracleSite, p: Period, interval: string): number[] {
  const tz = site.timezone;
  if (interval === 'hour') {
    const starts: number[] = [];
    for (let t = p.start; t < p.end; t += HOUR) starts.push(t);
    return starts;
  }
  const starts: number[] = [];
  for (let d = p.from; d <= p.to; d = addDays(d, 1)) {
    const first = d === p.from;
    if (interval === 'day' || first) starts.push(midnight(tz, d));
    else if (interval === 'week' && weekday(d) === 0) starts.push(midnight(tz, d));
    else if (interval === 'month' && d.endsWith('-01')) starts.push(midnight(tz, d));
  }
  return starts;
}

/* ---------- filters ---------- */

export interface FilterSpec {
  param: string;
  value: string;
}

interface ParsedFilter {
  key: string;
  prop?: string;
  negated: boolean;
  values: string[];
}

const WILDCARD = new Set(['page', 'entry_page', 'exit_page', 'hostname']);
const EVENT_LEVEL = new Set(['page', 'hostname', 'event', 'goal', 'prop']);
const VISITOR_LEVEL = new Set(['country', 'region', 'city', 'device', 'browser', 'os']);
export const SESSION_PROPERTIES = new Set([
  'entry_page',
  'exit_page',
  'channel',
  'referrer',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
]);
const EVENT_PROPERTIES = new Set(['page', 'hostname', 'event', 'goal', 'exit_link']);
export const VISIT_METRICS = new Set([
  'visits',
  'views_per_visit',
  'bounce_rate',
  'visit_duration',
  'entries',
  'exits',
]);

function parse(f: FilterSpec): ParsedFilter {
  const negated = f.value.startsWith('!');
  const values = (negated ? f.value.slice(1) : f.value).split('|');
  if (f.param.startsWith('prop:')) return { key: 'prop', prop: f.param.slice(5), negated, values };
  return { key: f.param, negated, values };
}

function matches(key: string, pattern: string, value: string): boolean {
  if (!WILDCARD.has(key) || !pattern.includes('*')) return pattern === value;
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's',
  );
  return re.test(value);
}

export function completes(e: OracleEvent, goal: Goal): boolean {
  if (goal.event_name) return e.name === goal.event_name;
  return e.name === 'pageview' && matches('page', goal.page_path!, e.pathname);
}

function eventPasses(site: OracleSite, e: OracleEvent, f: ParsedFilter): boolean {
  let hit: boolean;
  switch (f.key) {
    case 'page':
      // `page` selects pageviews: of these pages, or (negated) of other pages.
      if (e.name !== 'pageview') return false;
      hit = f.values.some((v) => matches('page', v, e.pathname));
      break;
    case 'goal':
      hit = f.values.some((v) =>
        completes(
          e,
          site.goals.find((g) => g.name === v)!,
        ),
      );
      break;
    case 'prop':
      hit = f.values.includes(e.props[f.prop!] ?? '');
      break;
    case 'event':
      hit = f.values.includes(e.name);
      break;
    default:
      hit = f.values.some((v) => matches(f.key, v, String(e[f.key as keyof OracleEvent])));
  }
  return f.negated ? !hit : hit;
}

function visitPasses(v: Visit, f: ParsedFilter): boolean {
  const hit = f.values.some((value) => matches(f.key, value, v.attrs[f.key]!));
  return f.negated ? !hit : hit;
}

/* ---------- metrics ---------- */

/** ClickHouse's `round(x, n)` on a Float64: nearest, halves to even, on the binary value of x·10ⁿ. */
export function chRound(x: number, digits: number): number {
  const scale = 10 ** digits;
  const y = x * scale;
  const floor = Math.floor(y);
  const diff = y - floor;
  const r = diff > 0.5 ? floor + 1 : diff < 0.5 ? floor : floor % 2 === 0 ? floor : floor + 1;
  return r / scale;
}

export type Grouping =
  { kind: 'total' } | { kind: 'bucket'; starts: number[] } | { kind: 'property'; property: string };

export interface Shape {
  metrics: string[];
  filters: FilterSpec[];
  grouping: Grouping;
}

interface Acc {
  eVisitors: Set<string>;
  ePageviews: number;
  eEvents: number;
  visits: number;
  bounces: number;
  durationMs: number;
  sessionPageviews: number;
  vVisitors: Set<string>;
  vPageviews: number;
  vEvents: number;
}

const emptyAcc = (): Acc => ({
  eVisitors: new Set(),
  ePageviews: 0,
  eEvents: 0,
  visits: 0,
  bounces: 0,
  durationMs: 0,
  sessionPageviews: 0,
  vVisitors: new Set(),
  vPageviews: 0,
  vEvents: 0,
});

/** The values an event contributes to a breakdown by an event-level or visitor-level property. */
function eventValues(site: OracleSite, e: OracleEvent, property: string): string[] {
  switch (property) {
    case 'page':
      return e.name === 'pageview' ? [e.pathname] : [];
    case 'exit_link':
      return e.link_url ? [e.link_url] : [];
    case 'goal':
      return site.goals.filter((g) => completes(e, g)).map((g) => g.name);
    case 'event':
      return [e.name];
    default:
      return [String(e[property as keyof OracleEvent])];
  }
}

function bucketOf(starts: number[], ts: number): string | undefined {
  let lo = 0;
  let hi = starts.length - 1;
  if (ts < starts[0]!) return undefined;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (starts[mid]! <= ts) lo = mid;
    else hi = mid - 1;
  }
  return new Date(starts[lo]!).toISOString();
}

/**
 * API.md's semantics: event metrics count the period's events that pass the event- and
 * visitor-level filters; visit metrics count the visits that start in the period, pass the
 * session- and visitor-level filters and (under event-level filters) hold a matching event. A
 * session-level filter or property makes every metric one of the selected visits.
 */
export function compute(site: OracleSite, p: Period, shape: Shape): Map<string, Record<string, number>> {
  const filters = shape.filters.map(parse);
  const eventFilters = filters.filter((f) => EVENT_LEVEL.has(f.key));
  const visitorFilters = filters.filter((f) => VISITOR_LEVEL.has(f.key));
  const sessionFilters = filters.filter((f) => !EVENT_LEVEL.has(f.key) && !VISITOR_LEVEL.has(f.key));
  const property = shape.grouping.kind === 'property' ? shape.grouping.property : undefined;
  const visitScoped =
    sessionFilters.length > 0 || (property !== undefined && SESSION_PROPERTIES.has(property));
  const needsVisits = visitScoped || shape.metrics.some((m) => VISIT_METRICS.has(m));
  const needsEvents = !visitScoped && shape.metrics.some((m) => !VISIT_METRICS.has(m));
  const groups = new Map<string, Acc>();
  const acc = (g: string) => {
    let a = groups.get(g);
    if (!a) groups.set(g, (a = emptyAcc()));
    return a;
  };
  const grouping = shape.grouping;
  if (grouping.kind === 'total') acc('');

  if (needsEvents) {
    for (const e of site.events) {
      if (e.ts < p.start || e.ts >= p.end) continue;
      if (![...eventFilters, ...visitorFilters].every((f) => eventPasses(site, e, f))) continue;
      const keys =
        grouping.kind === 'total'
          ? ['']
          : grouping.kind === 'bucket'
            ? [bucketOf(grouping.starts, e.ts)!]
            : eventValues(site, e, grouping.property);
      for (const k of keys) {
        const a = acc(k);
        a.eVisitors.add(e.visitor);
        if (e.name === 'pageview') a.ePageviews++;
        a.eEvents++;
      }
    }
  }

  if (needsVisits) {
    const byEvents = eventFilters.length > 0 || (property !== undefined && EVENT_PROPERTIES.has(property));
    for (const v of site.visits) {
      if (v.start < p.start || v.start >= p.end) continue;
      if (![...sessionFilters, ...visitorFilters].every((f) => visitPasses(v, f))) continue;
      // Per group, the visit's pageviews and events that count.
      const parts = new Map<string, { pageviews: number; events: number }>();
      if (byEvents) {
        for (const e of v.events) {
          if (!eventFilters.every((f) => eventPasses(site, e, f))) continue;
          const keys =
            property !== undefined && EVENT_PROPERTIES.has(property)
              ? eventValues(site, e, property)
              : [groupOfVisit(v, grouping)];
          for (const k of keys) {
            const part = parts.get(k) ?? { pageviews: 0, events: 0 };
            if (e.name === 'pageview') part.pageviews++;
            part.events++;
            parts.set(k, part);
          }
        }
      } else {
        parts.set(groupOfVisit(v, grouping), { pageviews: v.pageviews, events: v.events.length });
      }
      for (const [k, part] of parts) {
        const a = acc(k);
        a.visits++;
        if (v.pageviews === 1) a.bounces++;
        a.durationMs += v.end - v.start;
        a.sessionPageviews += v.pageviews;
        a.vVisitors.add(v.visitor);
        a.vPageviews += part.pageviews;
        a.vEvents += part.events;
      }
    }
  }

  let totalVisitors = 0;
  if (shape.metrics.includes('conversion_rate')) {
    const base = shape.filters.filter((f) => f.param !== 'event' && f.param !== 'goal');
    totalVisitors = compute(site, p, {
      metrics: ['visitors'],
      filters: base,
      grouping: { kind: 'total' },
    }).get('')!.visitors!;
  }

  const out = new Map<string, Record<string, number>>();
  for (const [g, a] of groups) {
    const visitors = visitScoped ? a.vVisitors.size : a.eVisitors.size;
    const values: Record<string, number> = {};
    for (const m of shape.metrics) {
      switch (m) {
        case 'visitors':
          values[m] = visitors;
          break;
        case 'pageviews':
          values[m] = visitScoped ? a.vPageviews : a.ePageviews;
          break;
        case 'events':
        case 'clicks':
          values[m] = visitScoped ? a.vEvents : a.eEvents;
          break;
        case 'visits':
        case 'entries':
        case 'exits':
          values[m] = a.visits;
          break;
        case 'bounce_rate':
          values[m] = a.visits ? chRound((100 * a.bounces) / a.visits, 1) : 0;
          break;
        case 'visit_duration':
          values[m] = a.visits ? chRound(a.durationMs / a.visits / 1000, 0) : 0;
          break;
        case 'views_per_visit':
          values[m] = a.visits ? chRound(a.sessionPageviews / a.visits, 2) : 0;
          break;
        case 'conversion_rate':
          values[m] = totalVisitors ? chRound((100 * visitors) / totalVisitors, 1) : 0;
          break;
      }
    }
    out.set(g, values);
  }
  return out;
}

function groupOfVisit(v: Visit, grouping: Grouping): string {
  if (grouping.kind === 'total') return '';
  if (grouping.kind === 'bucket') return bucketOf(grouping.starts, v.start)!;
  return v.attrs[grouping.property]!;
}

/** ClickHouse orders strings by their bytes. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** A breakdown page: sorted by the sort metric, then by value, so pages are stable. */
export function breakdownPage(
  rows: Map<string, Record<string, number>>,
  sort: { metric: string; direction: 'asc' | 'desc' },
  limit: number,
  pageNumber: number,
): { results: Array<Record<string, string | number>>; total: number } {
  const sorted = [...rows].sort(([va, a], [vb, b]) => {
    const d = a[sort.metric]! - b[sort.metric]!;
    if (d !== 0) return sort.direction === 'asc' ? d : -d;
    return byteOrder(va, vb);
  });
  return {
    results: sorted
      .slice((pageNumber - 1) * limit, pageNumber * limit)
      .map(([value, m]) => ({ value, ...m })),
    total: sorted.length,
  };
}

/* ---------- which source can answer ---------- */

/**
 * Rollups (the 15-minute tables and `sessions`) answer a shape exactly unless it needs what only
 * raw events hold (docs/stats.md): visit metrics next to an event-level filter or property; event
 * metrics under filters on more than one dimension (page, hostname, event name, device, browser,
 * os, location), under a custom property filter, a goal filter mixing event and page goals or
 * negating page goals; a goal breakdown with any filter.
 */
export function rollupsAnswer(site: OracleSite, shape: Shape): boolean {
  const filters = shape.filters.map(parse);
  const property = shape.grouping.kind === 'property' ? shape.grouping.property : undefined;
  const eventFilters = filters.filter((f) => EVENT_LEVEL.has(f.key));
  const sessionFilters = filters.filter((f) => !EVENT_LEVEL.has(f.key) && !VISITOR_LEVEL.has(f.key));
  const visitScoped =
    sessionFilters.length > 0 || (property !== undefined && SESSION_PROPERTIES.has(property));
  const needsVisits = visitScoped || shape.metrics.some((m) => VISIT_METRICS.has(m));
  const eventProperty = property !== undefined && EVENT_PROPERTIES.has(property);
  if (needsVisits && (eventFilters.length > 0 || eventProperty)) return false;
  if (visitScoped) return true;
  const dimensionOf = (f: ParsedFilter): string | null => {
    if (['country', 'region', 'city'].includes(f.key)) return 'location';
    if (f.key === 'prop') return null;
    if (f.key === 'goal') {
      const kinds = new Set(
        f.values.map((n) => (site.goals.find((g) => g.name === n)!.event_name ? 'event' : 'page')),
      );
      if (kinds.size > 1) return null;
      if (kinds.has('page') && f.negated) return null;
      return [...kinds][0]!;
    }
    return f.key;
  };
  const oneDimension = (fs: ParsedFilter[], prop?: string) => {
    const dims = new Set<string | null>(fs.map(dimensionOf));
    if (dims.has(null)) return false;
    if (prop === 'goal') return fs.length === 0;
    if (prop !== undefined) dims.add(['country', 'region', 'city'].includes(prop) ? 'location' : prop);
    return dims.size <= 1;
  };
  const needsEvents = shape.metrics.some((m) => !VISIT_METRICS.has(m));
  if (needsEvents && !oneDimension(filters, property)) return false;
  if (shape.metrics.includes('conversion_rate')) {
    if (!oneDimension(filters.filter((f) => f.key !== 'event' && f.key !== 'goal'))) return false;
  }
  return true;
}

/**
 * Whether a raw answer matches visits with their raw events: the api then reads the visits from
 * `sessions_v3` (part of the answer from rollups) unless raw events are forced.
 */
export function visitsMatchEvents(shape: Shape): boolean {
  const filters = shape.filters.map(parse);
  const property = shape.grouping.kind === 'property' ? shape.grouping.property : undefined;
  const visitScoped =
    filters.some((f) => !EVENT_LEVEL.has(f.key) && !VISITOR_LEVEL.has(f.key)) ||
    (property !== undefined && SESSION_PROPERTIES.has(property));
  const needsVisits = visitScoped || shape.metrics.some((m) => VISIT_METRICS.has(m));
  const eventProperty = property !== undefined && EVENT_PROPERTIES.has(property);
  return needsVisits && (filters.some((f) => EVENT_LEVEL.has(f.key)) || eventProperty);
}

/** Whether raw events cover what a raw answer reads: the period, and the day before when it rebuilds visits. */
export function rawCovers(p: Period, shape: Shape, now: number, retentionDays: number): boolean {
  const filters = shape.filters.map(parse);
  const property = shape.grouping.kind === 'property' ? shape.grouping.property : undefined;
  const visits =
    filters.some((f) => !EVENT_LEVEL.has(f.key) && !VISITOR_LEVEL.has(f.key)) ||
    (property !== undefined && SESSION_PROPERTIES.has(property)) ||
    shape.metrics.some((m) => VISIT_METRICS.has(m));
  return p.start - (visits ? DAY : 0) >= now - retentionDays * DAY;
}

/* ---------- raw-only endpoints ---------- */

export function realtime(site: OracleSite, now: number, minutes: number, filters: FilterSpec[]): number {
  const parsed = filters.map(parse);
  const onVisits = parsed.filter((f) => !EVENT_LEVEL.has(f.key) && !VISITOR_LEVEL.has(f.key));
  const onEvents = parsed.filter((f) => EVENT_LEVEL.has(f.key) || VISITOR_LEVEL.has(f.key));
  const visits = new Map(site.visits.map((v) => [v.session, v]));
  const who = new Set<string>();
  for (const e of site.events) {
    if (e.ts < now - minutes * 60_000) continue;
    if (!onEvents.every((f) => eventPasses(site, e, f))) continue;
    if (!onVisits.every((f) => visitPasses(visits.get(e.session)!, f))) continue;
    who.add(e.visitor);
  }
  return who.size;
}

export type FunnelStepSpec =
  { name: string; type: 'pageview'; url: string } | { name: string; type: 'goal'; goal_name: string };

/** Visitors reaching each step in order, every step within `windowMs` of the first. */
export function funnel(site: OracleSite, p: Period, steps: FunnelStepSpec[], windowMs: number): number[] {
  const hits = (e: OracleEvent, s: FunnelStepSpec) =>
    s.type === 'pageview'
      ? e.name === 'pageview' && matches('page', s.url, e.pathname)
      : completes(
          e,
          site.goals.find((g) => g.name === s.goal_name)!,
        );
  const byVisitor = new Map<string, OracleEvent[]>();
  for (const e of site.events) {
    if (e.ts < p.start || e.ts >= p.end || !steps.some((s) => hits(e, s))) continue;
    const list = byVisitor.get(e.visitor) ?? [];
    list.push(e);
    byVisitor.set(e.visitor, list);
  }
  const reached = steps.map(() => 0);
  for (const evs of byVisitor.values()) {
    let best = 0;
    evs.forEach((first, i) => {
      if (!hits(first, steps[0]!)) return;
      let level = 1;
      for (let j = i + 1; j < evs.length && level < steps.length; j++) {
        if (evs[j]!.ts - first.ts > windowMs) break;
        if (hits(evs[j]!, steps[level]!)) level++;
      }
      best = Math.max(best, level);
    });
    for (let l = 0; l < best; l++) reached[l]!++;
  }
  return reached;
}

/** Click cells of a `grid`×`grid` grid (coordinates are Float32 in ClickHouse) and scroll depths. */
export function heatmap(site: OracleSite, p: Period, page: string, grid: number) {
  const cells = new Map<string, number>();
  const deepest = new Map<string, number>();
  for (const e of site.events) {
    if (e.ts < p.start || e.ts >= p.end || !matches('page', page, e.pathname)) continue;
    deepest.set(e.visitor, Math.max(deepest.get(e.visitor) ?? 0, Math.fround(e.scroll_pct)));
    if (e.click_x === null || e.click_y === null) continue;
    const cell = (v: number) => Math.min(Math.floor(Math.fround(v) * grid), grid - 1);
    const key = `${cell(e.click_x)},${cell(e.click_y)}`;
    cells.set(key, (cells.get(key) ?? 0) + 1);
  }
  const clicks = [...cells]
    .map(([k, clicks]) => {
      const [x, y] = k.split(',').map(Number) as [number, number];
      return { x, y, clicks };
    })
    .sort((a, b) => a.x - b.x || a.y - b.y);
  const scroll = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((depth) => ({
    depth,
    visitors: [...deepest.values()].filter((d) => d >= depth).length,
  }));
  return { clicks, scroll };
}

/** `comparison.change`: percent change with one decimal, points for rates, null from zero. */
export function change(metric: string, current: number, previous: number): number | null {
  if (metric === 'bounce_rate' || metric === 'conversion_rate')
    return Math.round((current - previous) * 10) / 10;
  if (previous === 0) return current === 0 ? 0 : null;
  return Math.round(((current - previous) / previous) * 1000) / 10;
}
