import { randomUUID } from 'node:crypto';
import {
  classifyChannel,
  isBot,
  parsePageUrl,
  parseReferrer,
  parseUserAgent,
  visitorId,
  type GeoDatabase,
} from '@tidemark/enrichment';
import { ENRICHED_EVENT_VERSION, type EnrichedEventV1, type TrackEventInput } from '@tidemark/events';
import type { KnownSite } from './site-directory';
import type { VisitorIdentity } from './visitor-identity';

export interface RequestContext {
  ip: string;
  userAgent: string;
  receivedAt: Date;
}

export type EnrichResult =
  | { kind: 'accepted'; event: EnrichedEventV1 }
  | {
      kind: 'dropped';
      reason: 'bot' | 'excluded_ip' | 'excluded_path' | 'excluded_country' | 'hostname_not_allowed';
    };

function stringProps(props: TrackEventInput['props']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(props ?? {})) out[k] = String(v);
  return out;
}

/**
 * Turns a validated beacon into the Kafka message: who (visitor and session ids, never the IP),
 * where from (referrer, channel, utm), where (geo), on what (device, browser, OS).
 */
export async function enrichEvent(
  input: TrackEventInput,
  site: KnownSite,
  ctx: RequestContext,
  deps: { geo: GeoDatabase; identity: VisitorIdentity; extraBotPatterns: string[] },
): Promise<EnrichResult> {
  const ua = ctx.userAgent;
  if (isBot(ua) || deps.extraBotPatterns.some((p) => ua.includes(p)))
    return { kind: 'dropped', reason: 'bot' };

  // The tracker keeps the fragment only for sites that route by hash (data-hash), so keep what it sends.
  const page = parsePageUrl(input.url, { hashRouting: true });
  const geo = deps.geo.lookup(ctx.ip);
  const excluded = site.rules.exclusionReason({
    ip: ctx.ip,
    pathname: page.pathname,
    country: geo.country,
    hostname: page.hostname,
  });
  if (excluded) return { kind: 'dropped', reason: excluded };

  const ref = parseReferrer(input.referrer ?? '', page.hostname);
  const salt = await deps.identity.saltFor(ctx.receivedAt);
  const visitor = visitorId({ salt, siteId: site.id, ip: ctx.ip, userAgent: ua });
  const session = await deps.identity.sessionFor(site.id, visitor, ctx.receivedAt);
  const agent = parseUserAgent(ua);

  return {
    kind: 'accepted',
    event: {
      v: ENRICHED_EVENT_VERSION,
      event_id: input.event_id ?? randomUUID(),
      site_id: site.id,
      timestamp: ctx.receivedAt.toISOString(),
      name: input.name,
      visitor_id: visitor,
      session_id: session,
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
