import { describe, expect, it } from 'vitest';
import {
  countryProblem,
  currencyProblem,
  hostNameProblem,
  hostPatternProblem,
  ipOrCidrProblem,
  normalizeTimeZone,
  pagePathProblem,
  pathGlobProblem,
  unpairedSurrogateProblem,
} from './validators';
import { alertTemplate } from './alerts';
import { label } from './common';
import { COUNTRY_CODES } from './countries';

describe('site setting validators', () => {
  it.each(['example.com', 'a.b-c.example.co.uk', 'localhost', 'xn--bcher-kva.example', '1.example'])(
    'accepts the host name %s',
    (v) => expect(hostNameProblem(v)).toBeNull(),
  );

  it.each([
    ['https://example.com', /without scheme/],
    ['example.com/path', /without scheme/],
    ['example.com:8080', /without scheme/],
    ['user@example.com', /without scheme/],
    ['exa mple.com', /alphanumeric/],
    ['exa_mple.com', /alphanumeric/],
    ["example.com';--", /alphanumeric/],
    ['-example.com', /part between dots/],
    ['example..com', /part between dots/],
    ['.example.com', /part between dots/],
    [`${'a'.repeat(64)}.com`, /part between dots/],
    [`${'a.'.repeat(127)}com`, /253/],
    ['', /empty/],
  ])('refuses the host name %j', (v, message) => expect(hostNameProblem(v)).toMatch(message));

  it('takes *.host patterns only as a leading label', () => {
    expect(hostPatternProblem('*.example.com')).toBeNull();
    expect(hostPatternProblem('a.*.example.com')).not.toBeNull();
    expect(hostPatternProblem('*example.com')).not.toBeNull();
  });

  it.each(['203.0.113.7', '203.0.113.0/24', '0.0.0.0/0', '::1', '2001:db8::/32', '::ffff:192.0.2.1'])(
    'accepts the address %s',
    (v) => expect(ipOrCidrProblem(v)).toBeNull(),
  );

  it.each([
    '10.1',
    '0x7f.0.0.1',
    '256.1.1.1',
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0.0/8/8',
    'fe80::1%eth0',
    '10.0.0.0/x',
    '',
  ])('refuses the address %j', (v) => expect(ipOrCidrProblem(v)).not.toBeNull());

  it('accepts path globs that start with / and compile', () => {
    for (const v of ['/admin', '/admin/**', '/blog/*', '/{a,b}/*']) expect(pathGlobProblem(v)).toBeNull();
    expect(pathGlobProblem('admin/*')).toMatch(/start with/);
    expect(pathGlobProblem('/[abc')).toMatch(/not a valid pattern/);
    expect(pathGlobProblem('/a b')).toMatch(/spaces/);
    expect(pathGlobProblem('/a\r\nSet-Cookie: x')).toMatch(/spaces/);
  });

  it('knows the ISO country and currency codes', () => {
    expect(COUNTRY_CODES.size).toBe(250);
    expect(countryProblem('DE')).toBeNull();
    expect(countryProblem('EU')).not.toBeNull();
    expect(countryProblem('UK')).not.toBeNull();
    expect(currencyProblem('EUR')).toBeNull();
    expect(currencyProblem('XYZ')).not.toBeNull();
  });

  it('normalises IANA time zones and refuses offsets and inventions', () => {
    expect(normalizeTimeZone('Europe/Paris')).toBe('Europe/Paris');
    expect(normalizeTimeZone('europe/paris')).toBe('Europe/Paris');
    expect(normalizeTimeZone('UTC')).toBe('UTC');
    expect(normalizeTimeZone('utc')).toBe('UTC');
    expect(normalizeTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata');
    expect(normalizeTimeZone('Asia/Kathmandu')).toMatch(/^Asia\/Kat/);
    for (const bad of [
      '+05:00',
      'UTC+5',
      'Mars/Olympus',
      'Europe/Paris; DROP TABLE sites',
      '',
      '../etc/passwd',
    ]) {
      expect(normalizeTimeZone(bad)).toBeNull();
    }
  });

  it.each(['/', '/pricing', '/blog/*', '/*', '/a%20b', '/search?q=x'])('accepts the page path %s', (v) =>
    expect(pagePathProblem(v)).toBeNull(),
  );

  it.each([
    ['pricing', /start with \//],
    ['https://example.com/', /start with \//],
    ['/a b', /spaces/],
    ['/a\nb', /control/],
    ['/blog/*/comments', /only as its last character/],
    ['/**', /only as its last character/],
    ['/a\ud800', /unpaired surrogates/],
  ])('refuses the page path %j', (v, message) => expect(pagePathProblem(v)).toMatch(message));
});

describe('unpaired surrogates', () => {
  it('are refused wherever text reaches jsonb; a whole pair is an ordinary character', () => {
    for (const half of ['\ud800', 'a\udfff', '\udc00\ud800']) {
      expect(unpairedSurrogateProblem(half)).toMatch(/unpaired surrogates/);
      expect(label().safeParse(half).success).toBe(false);
      expect(alertTemplate.safeParse({ subject: 'Alert', message: half }).success).toBe(false);
    }
    expect(unpairedSurrogateProblem('😀 \ud83d\ude00')).toBeNull();
    expect(label().parse('Ünïcödé 😀')).toBe('Ünïcödé 😀');
  });
});
