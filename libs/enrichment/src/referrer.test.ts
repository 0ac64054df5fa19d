import { describe, expect, it } from 'vitest';
import { parseReferrer } from './referrer';

describe('parseReferrer', () => {
  it('keeps scheme, host and path of an external referrer and strips www. from the domain', () => {
    expect(parseReferrer('https://www.Google.com/search?q=secret#frag', 'example.com')).toEqual({
      referrer: 'https://www.google.com/search',
      referrer_domain: 'google.com',
    });
  });

  it('keeps a non-default port in the URL but not in the domain', () => {
    expect(parseReferrer('http://blog.example.org:8080/post/1', 'example.com')).toEqual({
      referrer: 'http://blog.example.org:8080/post/1',
      referrer_domain: 'blog.example.org',
    });
  });

  it('drops same-host navigation, with or without www.', () => {
    const none = { referrer: '', referrer_domain: '' };
    expect(parseReferrer('https://example.com/pricing', 'example.com')).toEqual(none);
    expect(parseReferrer('https://www.example.com/pricing', 'example.com')).toEqual(none);
    expect(parseReferrer('https://example.com/', 'WWW.EXAMPLE.COM')).toEqual(none);
  });

  it('counts another subdomain of the same site as a referrer', () => {
    expect(parseReferrer('https://docs.example.com/', 'example.com').referrer_domain).toBe(
      'docs.example.com',
    );
  });

  it.each([undefined, null, '', 'not a url', 'android-app://com.google.android.gm/', 'file:///tmp/x.html'])(
    'gives nothing for %s',
    (referrer) => {
      expect(parseReferrer(referrer, 'example.com')).toEqual({ referrer: '', referrer_domain: '' });
    },
  );

  it('caps the URL length', () => {
    const long = `https://ref.example.org/${'a'.repeat(5000)}`;
    expect(parseReferrer(long, 'example.com').referrer).toHaveLength(2048);
  });
});
