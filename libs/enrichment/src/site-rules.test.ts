import { describe, expect, it } from 'vitest';
import {
  compileSiteRules,
  validateCidr,
  validateGlob,
  validateHostnamePattern,
  type SiteRuleSettings,
} from './site-rules';

const none: SiteRuleSettings = {
  excluded_ips: [],
  excluded_paths: [],
  excluded_countries: [],
  allowed_hostnames: [],
};
const event = { ip: '198.51.100.7', pathname: '/pricing', country: 'US', hostname: 'example.com' };

describe('compileSiteRules', () => {
  it('excludes nothing without settings', () => {
    expect(compileSiteRules(none).exclusionReason(event)).toBeNull();
  });

  describe('excluded_ips', () => {
    const rules = compileSiteRules({
      ...none,
      excluded_ips: ['203.0.113.0/24', '198.51.100.99', '2001:db8:abcd::/48', '2001:db8:ffff::1'],
    });

    it('matches an IPv4 CIDR and a single IPv4 address', () => {
      expect(rules.exclusionReason({ ...event, ip: '203.0.113.200' })).toBe('excluded_ip');
      expect(rules.exclusionReason({ ...event, ip: '198.51.100.99' })).toBe('excluded_ip');
      expect(rules.exclusionReason({ ...event, ip: '203.0.114.1' })).toBeNull();
      expect(rules.exclusionReason({ ...event, ip: '198.51.100.98' })).toBeNull();
    });

    it('matches an IPv6 CIDR and a single IPv6 address in any spelling', () => {
      expect(rules.exclusionReason({ ...event, ip: '2001:db8:abcd:12::1' })).toBe('excluded_ip');
      expect(rules.exclusionReason({ ...event, ip: '2001:0db8:ffff:0000:0000:0000:0000:0001' })).toBe(
        'excluded_ip',
      );
      expect(rules.exclusionReason({ ...event, ip: '2001:db8:abce::1' })).toBeNull();
    });

    it('matches an IPv4 rule for an IPv4-mapped IPv6 client', () => {
      expect(rules.exclusionReason({ ...event, ip: '::ffff:203.0.113.5' })).toBe('excluded_ip');
    });

    it('matches an IPv4-mapped IPv6 rule for a plain IPv4 client', () => {
      const mapped = compileSiteRules({ ...none, excluded_ips: ['::ffff:192.0.2.0/120'] });
      expect(mapped.exclusionReason({ ...event, ip: '192.0.2.44' })).toBe('excluded_ip');
    });

    it('ignores an unparsable client address', () => {
      expect(rules.exclusionReason({ ...event, ip: 'unknown' })).toBeNull();
    });
  });

  describe('excluded_paths', () => {
    const rules = compileSiteRules({ ...none, excluded_paths: ['/admin/**', '/preview/*', '/exact'] });

    it('matches ** across segments, including the section root', () => {
      expect(rules.exclusionReason({ ...event, pathname: '/admin' })).toBe('excluded_path');
      expect(rules.exclusionReason({ ...event, pathname: '/admin/users' })).toBe('excluded_path');
      expect(rules.exclusionReason({ ...event, pathname: '/admin/users/42/edit' })).toBe('excluded_path');
      expect(rules.exclusionReason({ ...event, pathname: '/administrator' })).toBeNull();
    });

    it('matches * within one segment only', () => {
      expect(rules.exclusionReason({ ...event, pathname: '/preview/draft-1' })).toBe('excluded_path');
      expect(rules.exclusionReason({ ...event, pathname: '/preview/a/b' })).toBeNull();
    });

    it('matches an exact path and dot segments', () => {
      expect(rules.exclusionReason({ ...event, pathname: '/exact' })).toBe('excluded_path');
      expect(rules.exclusionReason({ ...event, pathname: '/admin/.hidden' })).toBe('excluded_path');
      expect(rules.exclusionReason({ ...event, pathname: '/exact/more' })).toBeNull();
    });
  });

  describe('excluded_countries', () => {
    const rules = compileSiteRules({ ...none, excluded_countries: ['de', 'FR'] });

    it('matches ISO codes case-insensitively and never an unknown country', () => {
      expect(rules.exclusionReason({ ...event, country: 'DE' })).toBe('excluded_country');
      expect(rules.exclusionReason({ ...event, country: 'FR' })).toBe('excluded_country');
      expect(rules.exclusionReason({ ...event, country: 'US' })).toBeNull();
      expect(rules.exclusionReason({ ...event, country: '' })).toBeNull();
    });
  });

  describe('allowed_hostnames', () => {
    const rules = compileSiteRules({ ...none, allowed_hostnames: ['example.com', '*.example.org'] });

    it('allows exact hosts, case-insensitively', () => {
      expect(rules.exclusionReason({ ...event, hostname: 'example.com' })).toBeNull();
      expect(rules.exclusionReason({ ...event, hostname: 'EXAMPLE.com.' })).toBeNull();
      expect(rules.exclusionReason({ ...event, hostname: 'www.example.com' })).toBe('hostname_not_allowed');
    });

    it('allows subdomains at any depth for a wildcard, but not the apex or look-alikes', () => {
      expect(rules.exclusionReason({ ...event, hostname: 'shop.example.org' })).toBeNull();
      expect(rules.exclusionReason({ ...event, hostname: 'a.b.example.org' })).toBeNull();
      expect(rules.exclusionReason({ ...event, hostname: 'example.org' })).toBe('hostname_not_allowed');
      expect(rules.exclusionReason({ ...event, hostname: 'evilexample.org' })).toBe('hostname_not_allowed');
    });
  });

  it('reports the first matching rule in the order ip, path, country, hostname', () => {
    const rules = compileSiteRules({
      excluded_ips: ['198.51.100.0/24'],
      excluded_paths: ['/pricing'],
      excluded_countries: ['US'],
      allowed_hostnames: ['other.com'],
    });
    expect(rules.exclusionReason(event)).toBe('excluded_ip');
    expect(rules.exclusionReason({ ...event, ip: '192.0.2.1' })).toBe('excluded_path');
    expect(rules.exclusionReason({ ...event, ip: '192.0.2.1', pathname: '/' })).toBe('excluded_country');
    expect(rules.exclusionReason({ ...event, ip: '192.0.2.1', pathname: '/', country: 'CA' })).toBe(
      'hostname_not_allowed',
    );
  });

  it('skips invalid entries instead of failing', () => {
    const rules = compileSiteRules({
      excluded_ips: ['not-an-ip', '10.0.0.0/99', '203.0.113.0/24'],
      excluded_paths: ['no-slash', '/ok/**'],
      excluded_countries: [],
      allowed_hostnames: ['bad host', 'example.com'],
    });
    expect(rules.exclusionReason({ ...event, ip: '203.0.113.1' })).toBe('excluded_ip');
    expect(rules.exclusionReason({ ...event, pathname: '/ok/x' })).toBe('excluded_path');
    expect(rules.exclusionReason(event)).toBeNull();
  });
});

describe('validateCidr', () => {
  it.each([
    '203.0.113.7',
    '203.0.113.0/24',
    '0.0.0.0/0',
    '2001:db8::1',
    '2001:db8::/32',
    '::/0',
    '::ffff:192.0.2.0/120',
  ])('accepts %s', (value) => {
    expect(validateCidr(value)).toBeNull();
  });

  it.each([
    '',
    'localhost',
    '203.0.113',
    '203.0.113.0/33',
    '2001:db8::/129',
    '0x7f.1',
    '203.0.113.0/',
    '1.2.3.4/24/8',
  ])('refuses %s', (value) => {
    expect(validateCidr(value)).toMatch(/must be/);
  });
});

describe('validateGlob', () => {
  it.each(['/admin/**', '/blog/*', '/exact', '/a/{b,c}/*'])('accepts %s', (value) => {
    expect(validateGlob(value)).toBeNull();
  });

  it('refuses relative, oversized and malformed globs', () => {
    expect(validateGlob('admin/**')).toMatch(/starting with \//);
    expect(validateGlob(`/${'a'.repeat(600)}`)).toMatch(/at most/);
    expect(validateGlob('/[unclosed')).toMatch(/valid glob/);
  });
});

describe('validateHostnamePattern', () => {
  it.each(['example.com', 'Sub.Example.com', '*.example.com', 'localhost', 'xn--bcher-kva.example'])(
    'accepts %s',
    (value) => {
      expect(validateHostnamePattern(value)).toBeNull();
    },
  );

  it.each([
    '',
    '*',
    '*.',
    'https://example.com',
    'example.com/path',
    'a..b',
    '-a.com',
    'foo.*.com',
    'exa mple.com',
  ])('refuses %s', (value) => {
    expect(validateHostnamePattern(value)).toMatch(/must be/);
  });
});
