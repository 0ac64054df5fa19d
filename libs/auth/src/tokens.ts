import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** `tma_` account tokens and `tmk_` site API keys share one shape: `<kind>_<12 hex id>_<secret>`. */
export type SecretTokenKind = 'tma' | 'tmk';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Length of a new secret: 40 base62 characters is about 238 bits. */
export const SECRET_LENGTH = 40;

const TOKEN_RE = /^(tma|tmk)_([0-9a-f]{12})_([0-9A-Za-z]{32,128})$/;
const SITE_KEY_RE = /^sk_[0-9A-Za-z]{16,64}$/;

/** Uniform base62: bytes of 248 and above are dropped because `byte % 62` would favour the low digits. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length + 8)) {
      if (byte >= 248) continue;
      out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Compares hashes, not secrets, and in constant time, so neither length nor content leaks. */
export function secretMatches(secret: string, storedHash: Buffer | null | undefined): boolean {
  const candidate = hashSecret(secret);
  // Without a stored hash we still compare against something, so a miss costs what a hit costs.
  const expected =
    storedHash && storedHash.length === candidate.length ? storedHash : Buffer.alloc(candidate.length);
  return timingSafeEqual(candidate, expected) && expected === storedHash;
}

export const keyPrefix = (kind: SecretTokenKind, id: string) => `${kind}_${id}`;

/** What lists show instead of the secret: the prefix and a fixed mask (the length does not leak). */
export const tokenPreview = (kind: SecretTokenKind, id: string) => `${kind}_${id}_${'*'.repeat(32)}`;

export interface IssuedToken {
  id: string;
  /** The raw token: shown to its owner once, never stored. */
  token: string;
  secretHash: Buffer;
  keyPrefix: string;
  preview: string;
}

export function issueToken(kind: SecretTokenKind): IssuedToken {
  const id = randomBytes(6).toString('hex');
  const secret = randomBase62(SECRET_LENGTH);
  return {
    id,
    token: `${kind}_${id}_${secret}`,
    secretHash: hashSecret(secret),
    keyPrefix: keyPrefix(kind, id),
    preview: tokenPreview(kind, id),
  };
}

export interface ParsedToken {
  kind: SecretTokenKind;
  id: string;
  secret: string;
}

export function parseToken(raw: string): ParsedToken | null {
  const m = TOKEN_RE.exec(raw);
  if (!m) return null;
  return { kind: m[1] as SecretTokenKind, id: m[2]!, secret: m[3]! };
}

/** Public identifier of a site for the tracker tag; not a secret. */
export const generateSiteKey = () => `sk_${randomBase62(20)}`;

export const isSiteKey = (value: string) => SITE_KEY_RE.test(value);
