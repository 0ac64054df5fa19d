import ipaddr from 'ipaddr.js';
import picomatch from 'picomatch';
import { COUNTRY_CODES } from './countries';

/**
 * Plain functions answering "what is wrong with this value" (null when nothing), shared by the zod
 * schemas here and by anything else that must agree with them (the ingest rules, tests).
 */

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A lower-cased host name: letters, digits, dots and hyphens; no scheme, path, port or user. */
export function hostNameProblem(value: string): string | null {
  if (value.length === 0) return 'must not be empty';
  if (/[/:?#@\\]/.test(value)) return 'must be a host name only, without scheme, path or port';
  if (!/^[a-z0-9.-]+$/.test(value)) return 'must contain only alphanumeric characters, dots and hyphens';
  if (value.length > 253) return 'must be at most 253 characters';
  if (!value.split('.').every((label) => LABEL_RE.test(label))) {
    return 'each part between dots must be 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen';
  }
  return null;
}

/** A host name, or `*.` followed by one (any subdomain of it). */
export function hostPatternProblem(value: string): string | null {
  return hostNameProblem(value.startsWith('*.') ? value.slice(2) : value);
}

const IP_HELP = 'must be an IP address or a CIDR range such as 203.0.113.0/24 or 2001:db8::/32';

/** Strict forms only: ipaddr.js's `isValid` also takes `10.1` or `0x7f.1`, which no one means. */
export function ipOrCidrProblem(value: string): string | null {
  const parts = value.split('/');
  if (parts.length > 2) return IP_HELP;
  const [address, prefix] = parts as [string, string | undefined];
  const v4 = ipaddr.IPv4.isValidFourPartDecimal(address);
  const v6 = !v4 && !address.includes('%') && ipaddr.IPv6.isValid(address);
  if (!v4 && !v6) return IP_HELP;
  if (prefix === undefined) return null;
  const max = v4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return `the prefix length must be 0 to ${max}`;
  return null;
}

/** A path glob for picomatch, e.g. `/admin/**` or `/blog/*`. */
export function pathGlobProblem(value: string): string | null {
  if (!value.startsWith('/')) return 'must start with /';
  if (/[\s\p{Cc}]/u.test(value)) return 'must not contain spaces or control characters';
  try {
    picomatch.makeRe(value, { strictBrackets: true });
  } catch (err) {
    return `is not a valid pattern: ${(err as Error).message}`;
  }
  return null;
}

/**
 * JSON can escape half of a surrogate pair (`"\ud800"`), which is no character: PostgreSQL refuses
 * it in jsonb (the activity log, funnel steps, alert templates) and silently replaces it in text.
 */
export function unpairedSurrogateProblem(value: string): string | null {
  return /\p{Cs}/u.test(value) ? 'must not contain unpaired surrogates (invalid Unicode)' : null;
}

/**
 * A page path a goal or funnel step matches: exact, or with a trailing `*`, every path that starts
 * with what precedes it (`/blog/*`). A `*` anywhere else would be taken literally by some readers
 * and as a wildcard by others, so it is refused.
 */
export function pagePathProblem(value: string): string | null {
  if (!value.startsWith('/')) return 'must start with /';
  if (/[\s\p{Cc}]/u.test(value)) return 'must not contain spaces or control characters';
  const surrogate = unpairedSurrogateProblem(value);
  if (surrogate) return surrogate;
  if (value.slice(0, -1).includes('*')) return 'may hold * only as its last character (a prefix match)';
  return null;
}

export function countryProblem(value: string): string | null {
  return COUNTRY_CODES.has(value) ? null : 'must be an ISO 3166-1 alpha-2 country code such as US or DE';
}

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

export function currencyProblem(value: string): string | null {
  return CURRENCIES.has(value) ? null : 'must be an ISO 4217 currency code such as USD or EUR';
}

const ZONES = Intl.supportedValuesOf('timeZone');
const ZONES_BY_LOWER = new Map([...ZONES, 'UTC'].map((zone) => [zone.toLowerCase(), zone]));
const ZONE_SYNTAX = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,2}$/;
const IANA_CASED = /^[A-Z][A-Za-z0-9_+-]*(?:\/[A-Z0-9][A-Za-z0-9_+-]*)*$/;

/**
 * The IANA time zone to store for `input`, or null when it is not one. Offsets such as `+05:00`
 * are refused (they are not zones: they ignore daylight saving). Case is corrected
 * (`europe/paris` → `Europe/Paris`) because ClickHouse looks zones up case-sensitively. Aliases
 * that ICU knows but does not list (`Asia/Kolkata`, `Etc/UTC`) are kept as written when cased like
 * IANA names; ClickHouse knows them too.
 */
export function normalizeTimeZone(input: string): string | null {
  if (!ZONE_SYNTAX.test(input)) return null;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: input }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
  const listed = ZONES_BY_LOWER.get(input.toLowerCase());
  if (listed) return listed;
  return IANA_CASED.test(input) ? input : resolved;
}
