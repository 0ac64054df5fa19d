import { describe, expect, it } from 'vitest';
import { isPublicIp, parseIp } from './ip-address';

describe('parseIp', () => {
  it('parses IPv4 and IPv6, trimming whitespace', () => {
    expect(parseIp(' 203.0.113.9 ')?.toString()).toBe('203.0.113.9');
    expect(parseIp('2001:0db8::0001')?.toString()).toBe('2001:db8::1');
  });

  it('turns IPv4-mapped IPv6 into IPv4', () => {
    const addr = parseIp('::ffff:203.0.113.9');
    expect(addr?.kind()).toBe('ipv4');
    expect(addr?.toString()).toBe('203.0.113.9');
  });

  it.each(['', 'localhost', '203.0.113', '127.1', '0x7f.0.0.1', '999.1.1.1', '2001:db8::g'])(
    'refuses %s',
    (value) => {
      expect(parseIp(value)).toBeNull();
    },
  );
});

describe('isPublicIp', () => {
  it.each(['8.8.8.8', '2a00:1450:4001:81c::200e'])('%s is public', (ip) => {
    expect(isPublicIp(parseIp(ip)!)).toBe(true);
  });

  it.each([
    '127.0.0.1',
    '10.0.0.1',
    '192.168.1.1',
    '100.64.0.1',
    '169.254.0.1',
    '0.0.0.0',
    '::1',
    'fe80::1',
    'fc00::1',
  ])('%s is not public', (ip) => {
    expect(isPublicIp(parseIp(ip)!)).toBe(false);
  });
});
