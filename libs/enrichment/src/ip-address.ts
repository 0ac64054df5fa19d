import ipaddr from 'ipaddr.js';

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * Parses a client address as the HTTP server reports it. IPv4-mapped IPv6 (`::ffff:203.0.113.9`,
 * what a dual-stack socket gives for IPv4 clients) becomes plain IPv4 so that IPv4 rules and the
 * IPv4 GeoIP table apply. Returns null for anything that is not an address, including the legacy
 * IPv4 spellings (`127.1`, `0x7f.0.0.1`) that ipaddr.js would otherwise accept.
 */
export function parseIp(ip: string): IpAddress | null {
  const text = ip.trim();
  if (!ipaddr.IPv4.isValidFourPartDecimal(text) && !ipaddr.IPv6.isValid(text)) return null;
  return ipaddr.process(text);
}

/** Globally routable unicast: not private, loopback, link-local, CGNAT, documentation, etc. */
export const isPublicIp = (addr: IpAddress): boolean => addr.range() === 'unicast';
