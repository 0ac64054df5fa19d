import { describe, expect, it } from 'vitest';
import { classifyChannel, sourceCategory, type Channel, type ChannelInput } from './channel';
import { SOURCE_CATEGORIES } from './sources';

describe('sourceCategory', () => {
  it.each([
    ['google', 'search'],
    ['Google', 'search'],
    ['google.com', 'search'],
    ['www.google.co.uk', 'search'],
    ['google.com.br', 'search'],
    ['news.google.com', 'search'],
    ['bing.com', 'search'],
    ['duckduckgo.com', 'search'],
    ['yandex.ru', 'search'],
    ['search.yahoo.co.jp', 'search'],
    ['search.brave.com', 'search'],
    ['ecosia.org', 'search'],
    ['facebook.com', 'social'],
    ['l.facebook.com', 'social'],
    ['m.facebook.com', 'social'],
    ['fb', 'social'],
    ['t.co', 'social'],
    ['x.com', 'social'],
    ['lnkd.in', 'social'],
    ['old.reddit.com', 'social'],
    ['pinterest.de', 'social'],
    ['blog.naver.com', 'social'],
    ['groups.google.com', 'social'],
    ['youtube.com', 'video'],
    ['m.youtube.com', 'video'],
    ['youtu.be', 'video'],
    ['vimeo.com', 'video'],
    ['twitch.tv', 'video'],
    ['amazon.de', 'shopping'],
    ['www.amazon.co.uk', 'shopping'],
    ['ebay.com', 'shopping'],
    ['shopping.naver.com', 'shopping'],
    ['mail.google.com', 'email'],
    ['outlook.live.com', 'email'],
  ])('%s is %s', (source, category) => {
    expect(sourceCategory(source)).toBe(category);
  });

  it.each(['', 'example.com', 'blog.example.org', 'notgoogle.com', 'mastodon-news.video', 'cnn.com'])(
    '%s has no category',
    (source) => {
      expect(sourceCategory(source)).toBeUndefined();
    },
  );

  it('holds lower-case, duplicate-free entries', () => {
    const all = Object.values(SOURCE_CATEGORIES).flat();
    expect(all.filter((entry) => entry !== entry.toLowerCase())).toEqual([]);
    expect(all.length).toBe(new Set(all).size);
  });
});

describe('classifyChannel (GA4 default channel grouping)', () => {
  const cases: [string, ChannelInput, Channel][] = [
    ['no referrer, no tags', {}, 'Direct'],
    ['empty strings everywhere', { referrer_domain: '', utm_source: '', utm_medium: '' }, 'Direct'],
    ['utm cpc from google', { utm_source: 'google', utm_medium: 'cpc' }, 'Paid Search'],
    ['utm ppc from bing', { utm_source: 'bing', utm_medium: 'ppc' }, 'Paid Search'],
    ['gclid with a google referrer', { referrer_domain: 'google.com', has_click_id: true }, 'Paid Search'],
    ['gclid without referrer', { has_click_id: true }, 'Paid Search'],
    ['msclkid with a bing referrer', { referrer_domain: 'bing.com', has_click_id: true }, 'Paid Search'],
    ['google referrer', { referrer_domain: 'google.com' }, 'Organic Search'],
    ['google country domain referrer', { referrer_domain: 'google.co.uk' }, 'Organic Search'],
    ['duckduckgo referrer', { referrer_domain: 'duckduckgo.com' }, 'Organic Search'],
    [
      'utm_medium organic from an unknown engine',
      { utm_source: 'mysearch', utm_medium: 'organic' },
      'Organic Search',
    ],
    ['facebook referrer', { referrer_domain: 'facebook.com' }, 'Organic Social'],
    ['l.facebook.com referrer', { referrer_domain: 'l.facebook.com' }, 'Organic Social'],
    ['t.co referrer', { referrer_domain: 't.co' }, 'Organic Social'],
    ['utm_medium social', { utm_source: 'partner-forum', utm_medium: 'social' }, 'Organic Social'],
    ['paid + facebook', { utm_source: 'facebook', utm_medium: 'paid' }, 'Paid Social'],
    ['paid_social + instagram', { utm_source: 'ig', utm_medium: 'paid_social' }, 'Paid Social'],
    ['cpc + linkedin', { utm_source: 'linkedin', utm_medium: 'cpc' }, 'Paid Social'],
    ['youtube referrer', { referrer_domain: 'youtube.com' }, 'Organic Video'],
    ['utm_medium video', { utm_source: 'partner', utm_medium: 'video' }, 'Organic Video'],
    ['cpv + youtube', { utm_source: 'youtube', utm_medium: 'cpv' }, 'Paid Video'],
    ['amazon referrer', { referrer_domain: 'amazon.de' }, 'Organic Shopping'],
    [
      'shopping campaign',
      { utm_source: 'partner', utm_medium: 'link', utm_campaign: 'summer-shop' },
      'Organic Shopping',
    ],
    [
      'cpc + shopping campaign',
      { utm_source: 'google', utm_medium: 'cpc', utm_campaign: 'shopping-q3' },
      'Paid Shopping',
    ],
    ['cpc + ebay', { utm_source: 'ebay', utm_medium: 'cpc' }, 'Paid Shopping'],
    [
      'cross-network campaign',
      { utm_source: 'google', utm_medium: 'cpc', utm_campaign: 'pmax-cross-network' },
      'Cross-network',
    ],
    ['display', { utm_source: 'adnetwork', utm_medium: 'display' }, 'Display'],
    ['banner', { utm_source: 'adnetwork', utm_medium: 'banner' }, 'Display'],
    ['cpm', { utm_source: 'adnetwork', utm_medium: 'cpm' }, 'Display'],
    ['interstitial', { utm_source: 'adnetwork', utm_medium: 'interstitial' }, 'Display'],
    ['cpc from an unknown source', { utm_source: 'adnetwork', utm_medium: 'cpc' }, 'Paid Other'],
    ['retargeting', { utm_source: 'adnetwork', utm_medium: 'retargeting' }, 'Paid Other'],
    ['utm_medium email', { utm_source: 'mailchimp', utm_medium: 'email' }, 'Email'],
    ['utm_medium e-mail', { utm_source: 'crm', utm_medium: 'E-Mail' }, 'Email'],
    ['utm_source newsletter alone', { utm_source: 'newsletter' }, 'Email'],
    ['webmail referrer', { referrer_domain: 'mail.google.com' }, 'Email'],
    ['affiliate', { utm_source: 'partner', utm_medium: 'affiliate' }, 'Affiliates'],
    ['unknown referrer', { referrer_domain: 'blog.example.org' }, 'Referral'],
    ['utm_medium referral', { utm_source: 'partner', utm_medium: 'referral' }, 'Referral'],
    ['ref param without medium', { utm_source: 'producthunt-launch' }, 'Referral'],
    ['audio', { utm_source: 'spotify', utm_medium: 'audio' }, 'Audio'],
    ['sms medium', { utm_source: 'twilio', utm_medium: 'sms' }, 'SMS'],
    ['sms source', { utm_source: 'sms' }, 'SMS'],
    ['push medium', { utm_source: 'app', utm_medium: 'web-push' }, 'Mobile Push Notifications'],
    ['notification medium', { utm_source: 'app', utm_medium: 'notification' }, 'Mobile Push Notifications'],
    ['firebase source', { utm_source: 'firebase', utm_medium: 'inapp' }, 'Mobile Push Notifications'],
    ['unknown medium', { utm_source: 'partner', utm_medium: 'qr' }, 'Unassigned'],
    [
      'utm tags win over the referrer',
      { referrer_domain: 'facebook.com', utm_source: 'newsletter', utm_medium: 'email' },
      'Email',
    ],
  ];

  it.each(cases)('%s', (_name, input, channel) => {
    expect(classifyChannel(input)).toBe(channel);
  });
});
