import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, serializePayload, signWebhook } from './signing';

describe('webhook secrets', () => {
  it('are whsec_ and base64 of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });
});

describe('signWebhook', () => {
  const secret = generateWebhookSecret();
  const body = serializePayload({
    type: 'goal.completed',
    timestamp: '2026-03-06T08:00:00.000Z',
    data: { site_id: 's', goal_name: 'Signup', event_id: 'e', completed_at: '2026-03-06T08:00:00.000Z' },
  });

  it('produces headers the official Standard Webhooks verifier accepts', () => {
    const headers = signWebhook({ secret, id: 'msg_0123456789abcdef0123456789abcdef', body });
    expect(headers['webhook-id']).toBe('msg_0123456789abcdef0123456789abcdef');
    expect(headers['webhook-timestamp']).toMatch(/^\d{10}$/);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    const verified = new Webhook(secret).verify(body, { ...headers });
    expect(verified).toEqual(JSON.parse(body));
  });

  it('signs "{id}.{timestamp}.{body}" so any change breaks verification', () => {
    const headers = signWebhook({ secret, id: 'msg_1', body });
    const verifier = new Webhook(secret);
    expect(() => verifier.verify(body.replace('Signup', 'Signin'), { ...headers })).toThrow(
      WebhookVerificationError,
    );
    expect(() => verifier.verify(body, { ...headers, 'webhook-id': 'msg_2' })).toThrow(
      WebhookVerificationError,
    );
    expect(() => new Webhook(generateWebhookSecret()).verify(body, { ...headers })).toThrow(
      WebhookVerificationError,
    );
  });

  it('uses the attempt time, which receivers check against replay', () => {
    const old = new Date(Date.now() - 10 * 60_000);
    const headers = signWebhook({ secret, id: 'msg_1', body, timestamp: old });
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(old.getTime() / 1000)));
    expect(() => new Webhook(secret).verify(body, { ...headers })).toThrow(/too old/i);
  });

  it('serializes payloads with a fixed key order', () => {
    expect(serializePayload({ data: { a: 1 }, timestamp: 't', type: 'pageview' } as never)).toBe(
      '{"type":"pageview","timestamp":"t","data":{"a":1}}',
    );
  });
});
