import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, classifyAddress } from './address-policy';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.1.2.3', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:192.168.0.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT (private)'],
    ['100.127.255.254', 'carrier-grade NAT (private)'],
    ['169.254.169.254', 'cloud metadata'],
    ['::ffff:169.254.169.254', 'cloud metadata'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fd00::1', 'unique local (private)'],
    ['fc00::1', 'unique local (private)'],
    ['fec0::1', 'site-local (private)'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['::7f00:1', 'IPv4-compatible IPv6 (deprecated)'],
    ['::a00:1', 'IPv4-compatible IPv6 (deprecated)'],
    // ipaddr.js reads the dotted form as IPv4-mapped: refused for its IPv4 part all the same.
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::a00:1', 'special-purpose (rfc6052)'],
    ['2002:a00:1::', 'special-purpose (6to4)'],
    ['2001::1', 'special-purpose (teredo)'],
    ['localhost', 'not an IP address'],
    ['127.1', 'not an IP address'],
    ['0x7f.0.0.1', 'not an IP address'],
  ])('refuses %s (%s)', (address, reason) => {
    expect(classifyAddress(address)).toEqual({ allowed: false, reason });
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '1.1.1.1',
    '100.63.255.255',
    '100.128.0.1',
    '172.15.255.255',
    '172.32.0.1',
    '169.253.255.255',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '::ffff:93.184.216.34',
  ])('allows public %s', (address) => {
    expect(classifyAddress(address)).toEqual({ allowed: true });
  });
});

describe('checkWebhookUrl', () => {
  const strict = { allowPrivateTargets: false };

  it.each([
    ['http://127.0.0.1/hook', 'must not point to a loopback address'],
    ['http://[::1]:8080/hook', 'must not point to a loopback address'],
    ['http://169.254.169.254/latest/meta-data', 'must not point to a cloud metadata address'],
    ['http://0.0.0.0/', 'must not point to a unspecified address'],
    ['http://2130706433/', 'must not point to a loopback address'],
    ['http://0x7f.1/', 'must not point to a loopback address'],
    ['http://[::ffff:10.0.0.1]/', 'must not point to a private address'],
    ['http://localhost:3000/', 'must not point to a loopback address'],
    ['http://api.localhost/', 'must not point to a loopback address'],
    ['ftp://example.com/', 'must use http or https'],
    ['https://user:pass@example.com/', 'must not contain credentials'],
    ['/relative', 'must be an absolute URL'],
  ])('refuses %s', (url, problem) => {
    expect(checkWebhookUrl(url, strict)).toBe(problem);
  });

  it('accepts public hosts and leaves host names to the connect-time check', () => {
    expect(checkWebhookUrl('https://hooks.example.com/tidemark', strict)).toBeNull();
    expect(checkWebhookUrl('http://93.184.216.34:8080/x', strict)).toBeNull();
  });

  it('lets private targets through when allowed, never other schemes', () => {
    const open = { allowPrivateTargets: true };
    expect(checkWebhookUrl('http://127.0.0.1:9999/hook', open)).toBeNull();
    expect(checkWebhookUrl('http://localhost/', open)).toBeNull();
    expect(checkWebhookUrl('file:///etc/passwd', open)).toBe('must use http or https');
  });
});
