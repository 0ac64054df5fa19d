import { randomUUID } from 'node:crypto';
import { enrichedEventV1 } from '@tidemark/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  classifyChannel,
  openGeoDatabase,
  parsePageUrl,
  parseReferrer,
  parseUserAgent,
  visitorId,
  type GeoDatabase,
} from './index';

const salt = Buffer.alloc(32, 7);

describe('enrichment output', () => {
  let geo: GeoDatabase;
  beforeAll(async () => {
    geo = await openGeoDatabase();
  });
  afterAll(() => geo.close());

  it.each([
    {
      url: 'https://www.example.com/pricing?utm_source=google&utm_medium=cpc&gclid=x',
      referrer: 'https://www.google.de/',
      ip: '8.8.8.8',
      ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
    },
    {
      url: `https://example.com/${'%F0%9F%98%80'.repeat(1000)}?utm_campaign=${'c'.repeat(5000)}`,
      referrer: `https://ref.example.org/${'x'.repeat(3000)}`,
      ip: '::1',
      ua: 'x'.repeat(10_000),
    },
    { url: 'https://example.com/', referrer: '', ip: 'garbage', ua: '' },
  ])('fits enrichedEventV1 for $url', ({ url, referrer, ip, ua }) => {
    const page = parsePageUrl(url);
    const ref = parseReferrer(referrer, page.hostname);
    const { has_click_id, ...pageFields } = page;
    const event = {
      v: 1,
      event_id: randomUUID(),
      site_id: randomUUID(),
      timestamp: new Date().toISOString(),
      name: 'pageview',
      visitor_id: visitorId({ salt, siteId: 'site', ip, userAgent: ua }),
      session_id: '1',
      ...pageFields,
      ...ref,
      channel: classifyChannel({ ...ref, ...page, has_click_id }),
      ...geo.lookup(ip),
      ...parseUserAgent(ua),
      screen_width: 0,
      props: {},
      revenue_amount: null,
      revenue_currency: '',
      engagement_time_ms: 0,
      scroll_pct: 0,
      click_x: null,
      click_y: null,
      link_url: '',
    };
    expect(enrichedEventV1.safeParse(event).error?.issues).toBeUndefined();
  });
});
