import { createHmac } from 'node:crypto';
import { parseIp } from './ip-address';

export interface VisitorIdInput {
  /** Today's secret salt; rotating it daily makes yesterday's ids unlinkable to today's. */
  salt: Buffer;
  siteId: string;
  ip: string;
  userAgent: string;
}

const MIN_SALT_BYTES = 16;

/**
 * The visitor id: the first 8 bytes of HMAC-SHA256(salt, "site|ip|ua") as an unsigned 64-bit
 * decimal string. Keyed by a secret salt, so the id cannot be reversed or recomputed from a
 * guessed IP without the salt; the IP itself is never returned. The IP is canonicalised first so
 * that `::ffff:203.0.113.9` and `203.0.113.9` (the same client on a dual-stack socket) agree.
 */
export function visitorId({ salt, siteId, ip, userAgent }: VisitorIdInput): string {
  if (salt.length < MIN_SALT_BYTES) throw new RangeError(`salt must be at least ${MIN_SALT_BYTES} bytes`);
  const canonicalIp = parseIp(ip)?.toString() ?? ip;
  // The user agent goes last: it is the only part that may itself contain "|".
  const digest = createHmac('sha256', salt).update(`${siteId}|${canonicalIp}|${userAgent}`).digest();
  return digest.readBigUInt64BE(0).toString();
}

/** The UTC calendar day a salt belongs to, `YYYY-MM-DD`. */
export const dailySaltDay = (date: Date): string => date.toISOString().slice(0, 10);
