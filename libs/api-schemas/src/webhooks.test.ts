import { describe, expect, it } from 'vitest';
import { createWebhookBody, updateWebhookBody } from './webhooks';

describe('webhook URLs', () => {
  it('are bounded as stored, not only as sent: percent-encoding can multiply the length', () => {
    // 1,900 characters as sent; 6 per "é" (%C3%A9) once normalized, far over the 2048 the table holds.
    const url = `https://hooks.example.com/${'é'.repeat(1_900)}`;
    for (const schema of [createWebhookBody, updateWebhookBody]) {
      const result = schema.safeParse({ url, events: ['pageview'] });
      expect(result.success).toBe(false);
      expect(result.error!.issues).toEqual([
        expect.objectContaining({
          path: ['url'],
          message: 'must be at most 2048 characters once percent-encoded',
        }),
      ]);
    }
  });

  it('take a URL whose normalized form still fits', () => {
    const url = `HTTPS://Hooks.Example.COM/${'é'.repeat(300)}`;
    const parsed = createWebhookBody.parse({ url, events: ['pageview'] });
    expect(parsed.url).toBe(`https://hooks.example.com/${'%C3%A9'.repeat(300)}`);
  });
});
