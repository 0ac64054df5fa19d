import ipaddr from 'ipaddr.js';
import picomatch from 'picomatch';
import { parseIp, type IpAddress } from './ip-address';

export interface SiteRuleSettings {
  /** Addresses or CIDR ranges, IPv4 or IPv6. */
  excluded_ips: readonly string[];
  /** Path globs: `*` within one segment, `**` across segments (`/admin/**`). */
  excluded_paths: readonly string[];
  /** ISO 3166-1 alpha-2 codes. */
  excluded_countries: readonly string[];
  /** Exact hosts or `*.example.com`; empty allows every host. */
  allowed_hostnames: readonly string[];
}

export type ExclusionReason = 'excluded_ip' | 'excluded_path' | 'excluded_country' | 'hostname_not_allowed';

export interface ExclusionInput {
  ip: string;
  pathname: string;
  /** '' when unknown: never excluded by country. */
  country: string;
  hostname: string;
}

export interface SiteRules {
  /** The first rule, in the order ip, path, country, hostname, that drops the event; else null. */
  exclusionReason(input: ExclusionInput): ExclusionReason | null;
}

const GLOB_MAX_LENGTH = 512;
const GLOB_OPTIONS: picomatch.PicomatchOptions = { dot: true, strictBrackets: true };
const HOSTNAME_PATTERN =
  /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

type CidrRange = [IpAddress, number];

function parseRange(value: string): CidrRange | null {
  const text = value.trim();
  if (text.includes('/')) {
    if (!ipaddr.IPv4.isValidCIDRFourPartDecimal(text) && !ipaddr.IPv6.isValidCIDR(text)) return null;
    return ipaddr.parseCIDR(text);
  }
  const addr = parseIp(text);
  return addr && [addr, addr.kind() === 'ipv4' ? 32 : 128];
}

/** null when `value` is an IPv4/IPv6 address or CIDR range, else the message for a 422. */
export function validateCidr(value: string): string | null {
  return parseRange(value) ? null : 'must be an IPv4 or IPv6 address or CIDR range such as 203.0.113.0/24';
}

/** null when `value` is a usable path glob, else the message for a 422. */
export function validateGlob(value: string): string | null {
  if (!value.startsWith('/')) return 'must be a path starting with /';
  if (value.length > GLOB_MAX_LENGTH) return `must be at most ${GLOB_MAX_LENGTH} characters`;
  try {
    picomatch.makeRe(value, GLOB_OPTIONS);
    return null;
  } catch {
    return 'must be a valid glob pattern (* matches within a segment, ** across segments)';
  }
}

/** null when `value` is a host name or `*.` followed by one, else the message for a 422. */
export function validateHostnamePattern(value: string): string | null {
  return HOSTNAME_PATTERN.test(value.trim().toLowerCase())
    ? null
    : 'must be a host name such as example.com, or *.example.com for its subdomains';
}

function matchesRange(addr: IpAddress, [network, bits]: CidrRange): boolean {
  if (addr.kind() === network.kind()) return addr.match(network, bits);
  // An IPv6 rule written for IPv4-mapped space still covers the plain IPv4 client.
  return addr.kind() === 'ipv4' && (addr as ipaddr.IPv4).toIPv4MappedAddress().match(network, bits);
}

/**
 * Compiles a site's exclusion settings once, so each event costs a few set lookups, one
 * precompiled glob test and a scan of the (short) IP range list. Entries that fail validation
 * are ignored: the API refuses them on write, and one bad entry must not stop ingestion for a site.
 * A `*.example.com` pattern allows subdomains at any depth, not example.com itself.
 */
export function compileSiteRules(settings: SiteRuleSettings): SiteRules {
  const ranges = settings.excluded_ips.map(parseRange).filter((r): r is CidrRange => r !== null);
  const globs = settings.excluded_paths.filter((glob) => validateGlob(glob) === null);
  const isExcludedPath = globs.length > 0 ? picomatch(globs, GLOB_OPTIONS) : () => false;
  const countries = new Set(settings.excluded_countries.map((c) => c.trim().toUpperCase()));
  const hostPatterns = settings.allowed_hostnames
    .map((h) => h.trim().toLowerCase())
    .filter((h) => validateHostnamePattern(h) === null);
  const exactHosts = new Set(hostPatterns.filter((h) => !h.startsWith('*.')));
  const hostSuffixes = hostPatterns.filter((h) => h.startsWith('*.')).map((h) => h.slice(1));

  const hostAllowed = (hostname: string) => {
    const host = hostname.trim().toLowerCase().replace(/\.$/, '');
    return exactHosts.has(host) || hostSuffixes.some((suffix) => host.endsWith(suffix));
  };

  return {
    exclusionReason({ ip, pathname, country, hostname }) {
      if (ranges.length > 0) {
        const addr = parseIp(ip);
        if (addr && ranges.some((range) => matchesRange(addr, range))) return 'excluded_ip';
      }
      if (isExcludedPath(pathname)) return 'excluded_path';
      if (country !== '' && countries.has(country.toUpperCase())) return 'excluded_country';
      if (hostPatterns.length > 0 && !hostAllowed(hostname)) return 'hostname_not_allowed';
      return null;
    },
  };
}
