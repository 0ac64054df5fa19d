import { describe, expect, it } from 'vitest';
import { createSiteBody, updateSiteBody } from './sites';

describe('site bodies', () => {
  it('lower-cases the domain, defaults nothing it was not given, and normalises settings', () => {
    const parsed = createSiteBody.parse({
      domain: ' Example.COM ',
      name: 'Main',
      settings: {
        excluded_countries: ['us', 'US'],
        allowed_hostnames: ['*.Example.com'],
        excluded_ips: ['10.0.0.0/8'],
      },
    });
    expect(parsed).toEqual({
      domain: 'example.com',
      name: 'Main',
      settings: {
        excluded_countries: ['US'],
        allowed_hostnames: ['*.example.com'],
        excluded_ips: ['10.0.0.0/8'],
      },
    });
  });

  it('names each bad field and refuses unknown ones', () => {
    const result = createSiteBody.safeParse({
      domain: 'https://x.com',
      name: 'a\nb',
      timezone: 'Mars/Base',
      settings: { excluded_ips: ['10.0.0.0/40'], excluded_paths: ['nope'] },
      owner: 'me',
    });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining([
        'domain',
        'name',
        'timezone',
        'settings.excluded_ips.0',
        'settings.excluded_paths.0',
      ]),
    );
    expect(result.error!.issues.some((i) => i.code === 'unrecognized_keys')).toBe(true);
  });

  it('needs at least one field to update', () => {
    expect(updateSiteBody.safeParse({}).success).toBe(false);
    expect(updateSiteBody.parse({ public_stats: true })).toEqual({ public_stats: true });
  });
});
