import ipaddr from 'ipaddr.js';
import { isIP } from 'node:net';

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

/** Cloud metadata endpoints (AWS, GCP, Azure, OpenStack on IPv4; AWS Nitro on IPv6). */
const METADATA = new Set(['169.254.169.254', 'fd00:ec2::254']);

const IPV4_REASONS: Record<string, string> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT (private)',
  private: 'private',
  reserved: 'reserved',
  as112: 'reserved',
  amt: 'reserved',
};

const IPV6_REASONS: Record<string, string> = {
  unspecified: 'unspecified',
  linkLocal: 'link-local',
  multicast: 'multicast',
  loopback: 'loopback',
  uniqueLocal: 'unique local (private)',
  deprecatedSiteLocal: 'site-local (private)',
};

/**
 * Whether a webhook may connect to `address`. Only ordinary public unicast passes: everything the
 * IANA special-purpose registries set aside is refused, including IPv6 forms that embed an IPv4
 * address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64, 6to4, Teredo), whose IPv4 part
 * could be private and which some networks route.
 */
export function classifyAddress(address: string): AddressVerdict {
  const literal = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(literal) || isIP(literal.split('%')[0]!) === 0) {
    return { allowed: false, reason: 'not an IP address' };
  }
  let ip = ipaddr.parse(literal);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) {
    ip = (ip as ipaddr.IPv6).toIPv4Address();
  }
  const normalized = ip.toString();
  if (METADATA.has(normalized)) return { allowed: false, reason: 'cloud metadata' };
  const range = ip.range();
  if (range === 'unicast') {
    if (ip.kind() === 'ipv6' && isIpv4Compatible(ip as ipaddr.IPv6)) {
      return { allowed: false, reason: 'IPv4-compatible IPv6 (deprecated)' };
    }
    return { allowed: true };
  }
  const reasons = ip.kind() === 'ipv4' ? IPV4_REASONS : IPV6_REASONS;
  return { allowed: false, reason: reasons[range] ?? `special-purpose (${range})` };
}

/** `::a.b.c.d` (RFC 4291 §2.5.5.1): deprecated, but an old stack may still map it to IPv4. */
function isIpv4Compatible(ip: ipaddr.IPv6): boolean {
  return ip.parts.slice(0, 6).every((p) => p === 0);
}

export interface TargetPolicy {
  /** Let webhooks reach loopback, private and link-local addresses (tests, on-premise setups). */
  allowPrivateTargets: boolean;
}

/**
 * What is wrong with a webhook URL before any network I/O, or null: scheme, credentials, and a host
 * that is an IP literal in a refused range or `localhost`. Host names are checked again, for every
 * address they resolve to, when the connection is made.
 */
export function checkWebhookUrl(url: string, { allowPrivateTargets }: TargetPolicy): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must use http or https';
  if (parsed.username || parsed.password) return 'must not contain credentials';
  if (allowPrivateTargets) return null;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const verdict = classifyAddress(host);
    return verdict.allowed ? null : `must not point to a ${verdict.reason} address`;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return 'must not point to a loopback address';
  return null;
}
