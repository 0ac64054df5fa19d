import { SOURCE_CATEGORIES, type SourceCategory } from './sources';

export const CHANNELS = [
  'Direct',
  'Cross-network',
  'Paid Shopping',
  'Paid Search',
  'Paid Social',
  'Paid Video',
  'Display',
  'Paid Other',
  'Organic Shopping',
  'Organic Social',
  'Organic Video',
  'Organic Search',
  'Email',
  'Affiliates',
  'Referral',
  'Audio',
  'SMS',
  'Mobile Push Notifications',
  'Unassigned',
] as const;

export type Channel = (typeof CHANNELS)[number];

export interface ChannelInput {
  /** From parseReferrer: '' for direct and same-site traffic. */
  referrer_domain?: string;
  utm_source?: string;
  utm_medium?: string;
  utm_campaign?: string;
  /** An ad click id (gclid, msclkid...) in the landing URL: search-ad auto-tagging. */
  has_click_id?: boolean;
}

const exactSources = new Map<string, SourceCategory>();
const brandSources = new Map<string, SourceCategory>();
for (const [category, entries] of Object.entries(SOURCE_CATEGORIES) as [
  SourceCategory,
  readonly string[],
][]) {
  for (const entry of entries) {
    if (entry.endsWith('.*')) brandSources.set(entry.slice(0, -2), category);
    else exactSources.set(entry, category);
  }
}

// Second-level labels under which country domains register names: google.co.uk, amazon.com.br.
const COUNTRY_SECOND_LEVEL = new Set([
  'co',
  'com',
  'net',
  'org',
  'ac',
  'gov',
  'edu',
  'ne',
  'or',
  'go',
  'gob',
]);

/** The registrable name of a host, without a public suffix list: `google` for `news.google.co.uk`. */
function brandOf(host: string): string | undefined {
  const labels = host.split('.');
  const last = labels.length - 1;
  if (last < 1) return undefined;
  const secondLevel = labels[last - 1] ?? '';
  if (last >= 2 && labels[last]?.length === 2 && COUNTRY_SECOND_LEVEL.has(secondLevel))
    return labels[last - 2];
  return secondLevel;
}

/** Category of a utm_source value or referrer host, per the matching rules in sources.ts. */
export function sourceCategory(source: string): SourceCategory | undefined {
  const name = source
    .trim()
    .toLowerCase()
    .replace(/^www\./, '');
  if (name === '') return undefined;
  const exact = exactSources.get(name);
  if (exact) return exact;
  if (!name.includes('.')) return undefined;
  // Parents stop at two labels so a TLD never matches a bare name (`.social`, `.video` exist).
  for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
    const parent = name.slice(dot + 1);
    if (!parent.includes('.')) break;
    const category = exactSources.get(parent);
    if (category) return category;
  }
  const brand = brandOf(name);
  return brand === undefined ? undefined : brandSources.get(brand);
}

const PAID_MEDIUM = /^(.*cp.*|ppc|retargeting|paid.*)$/;
const SHOPPING_CAMPAIGN = /^(.*(([^a-df-z]|^)shop|shopping).*)$/;
const DISPLAY_MEDIUMS = new Set(['display', 'banner', 'expandable', 'interstitial', 'cpm']);
const SOCIAL_MEDIUMS = new Set([
  'social',
  'social-network',
  'social-media',
  'sm',
  'social network',
  'social media',
]);
const EMAIL = /e[-_ ]?mail|newsletter/;
const REFERRAL_MEDIUMS = new Set(['referral', 'app', 'link']);

const lower = (value: string | undefined) => (value ?? '').trim().toLowerCase();

/**
 * GA4's default channel grouping, evaluated in GA4's order, on the source (utm_source, else the
 * referrer domain), medium (utm_medium; `referral` for a plain referrer; `cpc` for an ad click
 * id) and campaign. Two departures, both for sources GA4 cannot see: an ad click id without
 * utm_source counts as a search-engine source (what GA4's Google Ads / Microsoft Ads import
 * would say), and a utm_source (or `?ref=`) without a medium is Referral rather than Unassigned,
 * as a bare `?ref=newsletter-x` is meant.
 */
export function classifyChannel(input: ChannelInput): Channel {
  const utmSource = lower(input.utm_source);
  const utmMedium = lower(input.utm_medium);
  const campaign = lower(input.utm_campaign);
  const referrerDomain = lower(input.referrer_domain);
  const clickId = input.has_click_id === true;

  const source = utmSource || referrerDomain;
  const medium = utmMedium || (clickId ? 'cpc' : !utmSource && referrerDomain ? 'referral' : '');
  if (source === '' && medium === '' && campaign === '') return 'Direct';

  const category = sourceCategory(source) ?? (clickId && !utmSource ? 'search' : undefined);
  const paid = PAID_MEDIUM.test(medium);
  const shoppingCampaign = SHOPPING_CAMPAIGN.test(campaign);

  if (campaign.includes('cross-network')) return 'Cross-network';
  if ((category === 'shopping' || shoppingCampaign) && paid) return 'Paid Shopping';
  if (category === 'search' && paid) return 'Paid Search';
  if (category === 'social' && paid) return 'Paid Social';
  if (category === 'video' && paid) return 'Paid Video';
  if (DISPLAY_MEDIUMS.has(medium)) return 'Display';
  if (paid) return 'Paid Other';
  if (category === 'shopping' || shoppingCampaign) return 'Organic Shopping';
  if (category === 'social' || SOCIAL_MEDIUMS.has(medium)) return 'Organic Social';
  if (category === 'video' || medium.includes('video')) return 'Organic Video';
  if (category === 'search' || medium === 'organic') return 'Organic Search';
  if (category === 'email' || EMAIL.test(source) || EMAIL.test(medium)) return 'Email';
  if (medium === 'affiliate') return 'Affiliates';
  if (REFERRAL_MEDIUMS.has(medium)) return 'Referral';
  if (medium === 'audio') return 'Audio';
  if (source === 'sms' || medium === 'sms') return 'SMS';
  if (
    medium.endsWith('push') ||
    medium.includes('mobile') ||
    medium.includes('notification') ||
    source === 'firebase'
  ) {
    return 'Mobile Push Notifications';
  }
  if (utmMedium === '' && source !== '') return 'Referral';
  return 'Unassigned';
}
