import { randomUUID } from 'node:crypto';
import {
  classifyChannel,
  isBot,
  parsePageUrl,
  parseReferrer,
  parseUserAgent,
  visitorId,
  type GeoDatabase,
  type PageUrlInfo,
} from '@tidemark/enrichment';
import { ENRICHED_EVENT_VERSION, type EnrichedEventV1, type TrackEventInput } from '@tidemark/events';
import type { KnownSite } from './site-directory';
import type { VisitorIdentity } from './visitor-identity';

export interface RequestContext {
  ip: string;
  userAgent: string;
  receivedAt: Date;
}

export type DropReason =
  'bot' | 'excluded_ip' | 'excluded_path' | 'excluded_country' | 'hostname_not_allowed';

export type EnrichResult =
  { kind: 'accepted'; event: EnrichedEventV1 } | { kind: 'dropped'; reason: DropReason };

export interface EnrichDeps {
  geo: GeoDatabase;
  identity: VisitorIdentity;
  extraBotPatterns: string[];
}

const BOT: EnrichResult = Object.freeze({ kind: 'dropped', reason: 'bot' });

function stringProps(props: TrackEventInput['props']): Record<string, string> {
  const out: Record<string, string> = {};
  if (props) for (const k of Object.keys(props)) out[k] = String(props[k]);
  return out;
}

/**
 * Turns the validated beacons of one request into Kafka messages: who (visitor and session ids,
 * never the IP), where from (referrer, channel, utm), where (geo), on what (device, browser, OS).
 *
 * A request comes from one client, so what depends only on the client (bot check, user agent,
 * geo, visitor id per site) is worked out once, and the sessions of all its events are read in
 * one Redis round trip rather than one per event.
 */
export async function enrichEvents(
  inputs: readonly TrackEventInput[],
  sites: readonly KnownSite[],
  ctx: RequestContext,
  deps: EnrichDeps,
): Promise<EnrichResult[]> {
  const ua = ctx.userAgent;
  if (isBot(ua) || deps.extraBotPatterns.some((p) => ua.includes(p))) return inputs.map(() => BOT);

  const geo = deps.geo.lookup(ctx.ip);
  const results: (EnrichResult | undefined)[] = new Array(inputs.length);
  // The tracker keeps the fragment only for sites that route by hash (data-hash), so keep what it sends.
  const pages: PageUrlInfo[] = new Array(inputs.length);
  let kept = 0;
  for (let i = 0; i < inputs.length; i++) {
    const page = parsePageUrl(inputs[i]!.url, { hashRouting: true });
    const excluded = sites[i]!.rules.exclusionReason({
      ip: ctx.ip,
      pathname: page.pathname,
      country: geo.country,
      hostname: page.hostname,
    });
    if (excluded) results[i] = { kind: 'dropped', reason: excluded };
    else {
      pages[i] = page;
      kept++;
    }
  }
  if (kept === 0) return results as EnrichResult[];

  const salt = await deps.identity.saltFor(ctx.receivedAt);
  const visitors = new Map<string, string>();
  for (let i = 0; i < inputs.length; i++) {
    const siteId = sites[i]!.id;
    if (results[i] || visitors.has(siteId)) continue;
    visitors.set(siteId, visitorId({ salt, siteId, ip: ctx.ip, userAgent: ua }));
  }
  const siteIds = [...visitors.keys()];
  const sessionIds = await deps.identity.sessionsFor(
    siteIds.map((siteId) => ({ siteId, visitorId: visitors.get(siteId)! })),
    ctx.receivedAt,
  );
  const sessions = new Map(siteIds.map((siteId, i) => [siteId, sessionIds[i]!]));
  const agent = parseUserAgent(ua);
  const timestamp = ctx.receivedAt.toISOString();

  for (let i = 0; i < inputs.length; i++) {
    if (results[i]) continue;
    const input = inputs[i]!;
    const siteId = sites[i]!.id;
    const page = pages[i]!;
    const ref = parseReferrer(input.referrer ?? '', page.hostname);
    results[i] = {
      kind: 'accepted',
      event: {
        v: ENRICHED_EVENT_VERSION,
        event_id: input.event_id ?? randomUUID(),
        site_id: siteId,
        timestamp,
        name: input.name,
        visitor_id: visitors.get(siteId)!,
        session_id: sessions.get(siteId)!,
        hostname: page.hostname,
        pathname: page.pathname,
        referrer: ref.referrer,
        referrer_domain: ref.referrer_domain,
        channel: classifyChannel({
          referrer_domain: ref.referrer_domain,
          utm_source: page.utm_source,
          utm_medium: page.utm_medium,
          utm_campaign: page.utm_campaign,
          has_click_id: page.has_click_id,
        }),
        utm_source: page.utm_source,
        utm_medium: page.utm_medium,
        utm_campaign: page.utm_campaign,
        utm_content: page.utm_content,
        utm_term: page.utm_term,
        country: geo.country,
        region: geo.region,
        city: geo.city,
        device: agent.device,
        browser: agent.browser,
        browser_version: agent.browser_version,
        os: agent.os,
        os_version: agent.os_version,
        screen_width: input.screen_width ?? 0,
        props: stringProps(input.props),
        revenue_amount: input.revenue?.amount ?? null,
        revenue_currency: input.revenue?.currency ?? '',
        engagement_time_ms: input.engagement?.time_ms ?? 0,
        scroll_pct: input.engagement?.scroll_pct ?? 0,
        click_x: input.click?.x ?? null,
        click_y: input.click?.y ?? null,
        link_url: input.link?.url ?? '',
      },
    };
  }
  return results as EnrichResult[];
}
