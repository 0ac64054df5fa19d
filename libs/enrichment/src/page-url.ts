import { DIMENSION_MAX, stripControlChars, truncate } from './text';

export interface PageUrlInfo {
  /** Lower-cased, `www.` kept: www.example.com and example.com may be different sites. */
  hostname: string;
  /** Percent-decoded for reading (reserved characters such as %2F stay encoded), no query. */
  pathname: string;
  utm_source: string;
  utm_medium: string;
  utm_campaign: string;
  utm_content: string;
  utm_term: string;
  /** The URL carries an ad click id (Google Ads or Microsoft Advertising auto-tagging). */
  has_click_id: boolean;
}

export interface PageUrlOptions {
  /**
   * The site routes with the fragment (`/#/settings`): the fragment, without any `?query` in it,
   * becomes part of the path. Otherwise the fragment is dropped. The tracker sends a fragment
   * only when its tag has data-hash, so ingest can set this for every tracker event.
   */
  hashRouting?: boolean;
}

const CLICK_ID_PARAMS = ['gclid', 'gbraid', 'wbraid', 'dclid', 'msclkid'];

const EMPTY: PageUrlInfo = Object.freeze({
  hostname: '',
  pathname: '',
  utm_source: '',
  utm_medium: '',
  utm_campaign: '',
  utm_content: '',
  utm_term: '',
  has_click_id: false,
});

function decodePath(path: string): string {
  try {
    return decodeURI(path);
  } catch {
    // A malformed escape (a lone "%") is kept as sent rather than losing the page view.
    return path;
  }
}

function param(params: URLSearchParams, name: string): string {
  return truncate(stripControlChars(params.get(name) ?? '').trim(), DIMENSION_MAX);
}

/**
 * Splits a page URL into the event dimensions. `utm_source` falls back to `source` and then `ref`
 * (`?ref=producthunt`), as Plausible does. An unparsable URL gives empty values; ingest has
 * validated URLs before they get here.
 */
export function parsePageUrl(url: string, options: PageUrlOptions = {}): PageUrlInfo {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return EMPTY;
  }
  const params = parsed.searchParams;
  let path = parsed.pathname;
  if (options.hashRouting && parsed.hash.length > 1) {
    path += parsed.hash.split('?', 1)[0];
  }
  return {
    hostname: parsed.hostname.toLowerCase().replace(/\.$/, ''),
    pathname: truncate(stripControlChars(decodePath(path))),
    utm_source: param(params, 'utm_source') || param(params, 'source') || param(params, 'ref'),
    utm_medium: param(params, 'utm_medium'),
    utm_campaign: param(params, 'utm_campaign'),
    utm_content: param(params, 'utm_content'),
    utm_term: param(params, 'utm_term'),
    has_click_id: CLICK_ID_PARAMS.some((name) => (params.get(name) ?? '') !== ''),
  };
}
