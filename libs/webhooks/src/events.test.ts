import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toWebhookEventItem, webhookEventItem, type EnrichedEventFields } from './events';

describe('toWebhookEventItem', () => {
  const enriched: EnrichedEventFields & { visitor_id: string; session_id: string; v: 1 } = {
    v: 1,
    event_id: randomUUID(),
    name: 'signup',
    timestamp: '2026-03-06T08:00:00.000Z',
    visitor_id: '123456789',
    session_id: '987654321',
    hostname: 'example.com',
    pathname: '/pricing',
    referrer: 'https://news.example.org/',
    channel: 'Referral',
    utm_source: 'newsletter',
    utm_medium: '',
    utm_campaign: '',
    utm_content: '',
    utm_term: '',
    country: 'FR',
    region: 'FR-IDF',
    city: 'Paris',
    device: 'Desktop',
    browser: 'Firefox',
    os: 'Linux',
    props: { plan: 'pro' },
    revenue_amount: 49.5,
    revenue_currency: 'EUR',
  };

  it('keeps what receivers can use and drops the visitor and session hashes', () => {
    const item = toWebhookEventItem(enriched);
    expect(webhookEventItem.parse(item)).toEqual(item);
    expect(item).not.toHaveProperty('visitor_id');
    expect(item).not.toHaveProperty('session_id');
    expect(item).toMatchObject({
      name: 'signup',
      props: { plan: 'pro' },
      revenue: { amount: 49.5, currency: 'EUR' },
    });
  });

  it('shows no revenue as null', () => {
    expect(
      toWebhookEventItem({ ...enriched, revenue_amount: null, revenue_currency: '' }).revenue,
    ).toBeNull();
  });
});
