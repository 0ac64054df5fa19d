import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openGeoDatabase, type GeoDatabase } from './geo';

describe('openGeoDatabase (DB-IP City Lite)', () => {
  let geo: GeoDatabase;

  beforeAll(async () => {
    geo = await openGeoDatabase();
  });

  afterAll(() => geo.close());

  it.each([
    ['8.8.8.8', 'US'],
    ['1.1.1.1', 'AU'],
    ['81.2.69.142', 'GB'],
    ['133.242.0.3', 'JP'],
    ['85.214.132.117', 'DE'],
  ])('resolves IPv4 %s to %s', (ip, country) => {
    const loc = geo.lookup(ip);
    expect(loc.country).toBe(country);
    expect(loc.region).not.toBe('');
    expect(loc.city).not.toBe('');
  });

  it('resolves IPv6 addresses from the IPv6 table', () => {
    expect(geo.lookup('2a00:1450:4001:81c::200e').country).toBe('DE');
    expect(geo.lookup('2001:67c:2e8:22::c100:68b').country).toBe('NL');
  });

  it('treats IPv4-mapped IPv6 as IPv4', () => {
    expect(geo.lookup('::ffff:8.8.8.8').country).toBe('US');
  });

  it('gives region and city names as the database has them', () => {
    expect(geo.lookup('8.8.8.8')).toEqual({ country: 'US', region: 'California', city: 'Mountain View' });
  });

  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '192.168.0.10',
    '172.16.5.4',
    '100.64.0.1',
    '169.254.1.1',
    '::1',
    'fe80::1',
    'fd00::1',
  ])('returns nothing for non-public %s', (ip) => {
    expect(geo.lookup(ip)).toEqual({ country: '', region: '', city: '' });
  });

  it('returns nothing for garbage', () => {
    expect(geo.lookup('')).toEqual({ country: '', region: '', city: '' });
    expect(geo.lookup('not-an-ip')).toEqual({ country: '', region: '', city: '' });
  });

  it('refuses lookups after close', async () => {
    const other = await openGeoDatabase();
    other.close();
    expect(() => other.lookup('8.8.8.8')).toThrow(/closed/);
  });
});
