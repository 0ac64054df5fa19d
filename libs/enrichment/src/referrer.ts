import { bareHost, truncate } from './text';

export interface ReferrerInfo {
  /** `scheme://host[:port]/path`: query and fragment dropped, as they often carry search terms or tokens. */
  referrer: string;
  /** Referrer host without `www.`; the source of the visit. */
  referrer_domain: string;
}

const NONE: ReferrerInfo = Object.freeze({ referrer: '', referrer_domain: '' });

/**
 * Normalizes `document.referrer` against the page it led to. Navigation inside the site
 * (same host, with or without `www.`) and anything that is not an http(s) URL give ''.
 */
export function parseReferrer(referrer: string | null | undefined, pageHostname: string): ReferrerInfo {
  if (!referrer) return NONE;
  let url: URL;
  try {
    url = new URL(referrer);
  } catch {
    return NONE;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return NONE;
  const domain = bareHost(url.hostname);
  if (domain === '' || domain === bareHost(pageHostname)) return NONE;
  return {
    referrer: truncate(`${url.protocol}//${url.host}${url.pathname}`),
    referrer_domain: truncate(domain),
  };
}
