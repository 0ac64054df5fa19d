import { describe, expect, it } from 'vitest';
import { dailySaltDay, visitorId } from './visitor-id';

const salt = Buffer.alloc(32, 1);
const base = {
  salt,
  siteId: '550e8400-e29b-41d4-a716-446655440000',
  ip: '203.0.113.9',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0',
};

describe('visitorId', () => {
  it('is an unsigned 64-bit decimal string', () => {
    const id = visitorId(base);
    expect(id).toMatch(/^\d{1,20}$/);
    expect(BigInt(id)).toBeLessThan(2n ** 64n);
  });

  it('is stable for the same inputs', () => {
    expect(visitorId(base)).toBe(visitorId({ ...base, salt: Buffer.alloc(32, 1) }));
  });

  it('changes with the salt, the site, the IP and the user agent', () => {
    const id = visitorId(base);
    expect(visitorId({ ...base, salt: Buffer.alloc(32, 2) })).not.toBe(id);
    expect(visitorId({ ...base, siteId: '660f9511-f39c-52e5-b827-557766551111' })).not.toBe(id);
    expect(visitorId({ ...base, ip: '203.0.113.10' })).not.toBe(id);
    expect(visitorId({ ...base, userAgent: `${base.userAgent} Extra` })).not.toBe(id);
  });

  it('treats an IPv4-mapped IPv6 address as the IPv4 client', () => {
    expect(visitorId({ ...base, ip: '::ffff:203.0.113.9' })).toBe(visitorId(base));
  });

  it('treats spellings of one IPv6 address as one client', () => {
    expect(visitorId({ ...base, ip: '2001:db8:0:0:0:0:0:1' })).toBe(
      visitorId({ ...base, ip: '2001:db8::1' }),
    );
  });

  it('never contains the IP', () => {
    expect(visitorId(base)).not.toContain('203');
  });

  it('refuses a short salt', () => {
    expect(() => visitorId({ ...base, salt: Buffer.alloc(8) })).toThrow(RangeError);
  });
});

describe('dailySaltDay', () => {
  it('is the UTC calendar day', () => {
    expect(dailySaltDay(new Date('2026-03-06T23:30:00-05:00'))).toBe('2026-03-07');
    expect(dailySaltDay(new Date('2026-03-06T00:00:00.000Z'))).toBe('2026-03-06');
  });
});
