import { describe, expect, it } from 'vitest';
import { parsePageUrl } from './page-url';

describe('parsePageUrl', () => {
  it('splits host, path and utm tags and drops query and fragment from the path', () => {
    expect(
      parsePageUrl(
        'https://WWW.Example.com/pricing?utm_source=Newsletter&utm_medium=email&utm_campaign=spring&utm_content=hero&utm_term=plans&x=1#top',
      ),
    ).toEqual({
      hostname: 'www.example.com',
      pathname: '/pricing',
      utm_source: 'Newsletter',
      utm_medium: 'email',
      utm_campaign: 'spring',
      utm_content: 'hero',
      utm_term: 'plans',
      has_click_id: false,
    });
  });

  it('decodes the path for reading but keeps encoded reserved characters', () => {
    expect(parsePageUrl('https://example.com/caf%C3%A9/a%2Fb').pathname).toBe('/café/a%2Fb');
  });

  it('keeps a malformed escape as sent', () => {
    expect(parsePageUrl('https://example.com/100%-real').pathname).toBe('/100%-real');
  });

  it('falls back to source and then ref for utm_source', () => {
    expect(parsePageUrl('https://example.com/?ref=producthunt').utm_source).toBe('producthunt');
    expect(parsePageUrl('https://example.com/?source=hn&ref=producthunt').utm_source).toBe('hn');
    expect(parsePageUrl('https://example.com/?utm_source=x&source=hn').utm_source).toBe('x');
  });

  it.each(['gclid', 'gbraid', 'wbraid', 'dclid', 'msclkid'])('notices the %s click id', (param) => {
    expect(parsePageUrl(`https://example.com/?${param}=abc123`).has_click_id).toBe(true);
  });

  it('ignores an empty click id and non-ad ids', () => {
    expect(parsePageUrl('https://example.com/?gclid=').has_click_id).toBe(false);
    expect(parsePageUrl('https://example.com/?fbclid=abc').has_click_id).toBe(false);
  });

  it('adds the fragment route to the path only with hash routing', () => {
    const url = 'https://app.example.com/#/settings/profile?tab=2';
    expect(parsePageUrl(url).pathname).toBe('/');
    expect(parsePageUrl(url, { hashRouting: true }).pathname).toBe('/#/settings/profile');
    expect(parsePageUrl('https://app.example.com/#', { hashRouting: true }).pathname).toBe('/');
  });

  it('caps the path and strips control characters', () => {
    expect(parsePageUrl(`https://example.com/${'a'.repeat(5000)}`).pathname).toHaveLength(2048);
    expect(parsePageUrl('https://example.com/a%00b?utm_source=x%0Ay').pathname).toBe('/ab');
    expect(parsePageUrl('https://example.com/?utm_source=x%0Ay').utm_source).toBe('xy');
  });

  it('does not split a surrogate pair when capping', () => {
    const path = parsePageUrl(`https://example.com/${'a'.repeat(2046)}😀`).pathname;
    expect(path).toHaveLength(2047);
    expect(path.endsWith('a')).toBe(true);
  });

  it('gives empty values for an unparsable URL', () => {
    expect(parsePageUrl('nope')).toMatchObject({ hostname: '', pathname: '', has_click_id: false });
  });
});
