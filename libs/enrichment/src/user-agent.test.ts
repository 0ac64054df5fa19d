import { describe, expect, it } from 'vitest';
import { parseUserAgent } from './user-agent';

const UA = {
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36',
  safariIphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
  safariIpad:
    'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
  firefoxAndroid: 'Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0',
  safariMac:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15',
  samsungTablet:
    'Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  curl: 'curl/8.4.0',
};

describe('parseUserAgent', () => {
  it('parses desktop Chrome on Windows', () => {
    expect(parseUserAgent(UA.chromeWindows)).toEqual({
      browser: 'Chrome',
      browser_version: '120.0',
      os: 'Windows',
      os_version: '10',
      device: 'desktop',
    });
  });

  it('parses Safari on iPhone as mobile Safari', () => {
    expect(parseUserAgent(UA.safariIphone)).toEqual({
      browser: 'Safari',
      browser_version: '17.2',
      os: 'iOS',
      os_version: '17.2',
      device: 'mobile',
    });
  });

  it('parses an iPad as a tablet', () => {
    expect(parseUserAgent(UA.safariIpad)).toMatchObject({ browser: 'Safari', os: 'iOS', device: 'tablet' });
  });

  it('parses an Android tablet as a tablet', () => {
    expect(parseUserAgent(UA.samsungTablet)).toMatchObject({
      browser: 'Samsung Internet',
      os: 'Android',
      os_version: '13',
      device: 'tablet',
    });
  });

  it('parses Firefox on Android as mobile', () => {
    expect(parseUserAgent(UA.firefoxAndroid)).toEqual({
      browser: 'Firefox',
      browser_version: '121.0',
      os: 'Android',
      os_version: '14',
      device: 'mobile',
    });
  });

  it('keeps major.minor of the OS version', () => {
    expect(parseUserAgent(UA.safariMac)).toMatchObject({
      os: 'Mac OS',
      os_version: '10.15',
      device: 'desktop',
    });
  });

  it('gives empty values for an empty or missing agent', () => {
    const empty = { browser: '', browser_version: '', os: '', os_version: '', device: '' };
    expect(parseUserAgent('')).toEqual(empty);
    expect(parseUserAgent('   ')).toEqual(empty);
    expect(parseUserAgent(undefined)).toEqual(empty);
  });

  it('gives empty values for agents it does not recognise (crawlers, curl)', () => {
    expect(parseUserAgent(UA.googlebot)).toMatchObject({ browser: '', os: '', device: '' });
    expect(parseUserAgent(UA.curl)).toMatchObject({ browser: '', os: '', device: '' });
  });

  it('answers repeated agents from the cache with the same result', () => {
    expect(parseUserAgent(UA.chromeWindows)).toBe(parseUserAgent(UA.chromeWindows));
  });

  it('keeps results within the enriched event limits for oversized agents', () => {
    const info = parseUserAgent(`${UA.chromeWindows} ${'x'.repeat(100_000)}`);
    expect(info.browser).toBe('Chrome');
  });
});
