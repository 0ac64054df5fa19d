import { describe, expect, it } from 'vitest';
import {
  generateSiteKey,
  hashSecret,
  isSiteKey,
  issueToken,
  parseToken,
  randomBase62,
  secretMatches,
  SECRET_LENGTH,
} from './tokens';

describe('secret tokens', () => {
  it('issues tma_/tmk_ tokens with a 12 hex id and a long base62 secret', () => {
    for (const kind of ['tma', 'tmk'] as const) {
      const issued = issueToken(kind);
      expect(issued.token).toMatch(new RegExp(`^${kind}_[0-9a-f]{12}_[0-9A-Za-z]{${SECRET_LENGTH}}$`));
      expect(issued.keyPrefix).toBe(`${kind}_${issued.id}`);
      expect(issued.preview).toBe(`${kind}_${issued.id}_${'*'.repeat(32)}`);
      expect(issued.preview).not.toContain(issued.token.slice(-8));
      const parsed = parseToken(issued.token)!;
      expect(parsed).toEqual({ kind, id: issued.id, secret: issued.token.split('_')[2] });
      expect(hashSecret(parsed.secret).equals(issued.secretHash)).toBe(true);
    }
  });

  it('never issues the same id or secret twice in a run', () => {
    const tokens = Array.from({ length: 500 }, () => issueToken('tma'));
    expect(new Set(tokens.map((t) => t.id)).size).toBe(500);
    expect(new Set(tokens.map((t) => t.token)).size).toBe(500);
  });

  it.each([
    '',
    'tma_',
    'tmx_0123456789ab_' + 'a'.repeat(40),
    'tma_0123456789AB_' + 'a'.repeat(40),
    'tma_0123456789a_' + 'a'.repeat(40),
    'tma_0123456789ab_' + 'a'.repeat(31),
    'tma_0123456789ab_' + 'a'.repeat(39) + '-',
    'Bearer tma_0123456789ab_' + 'a'.repeat(40),
    'tma_0123456789ab_' + 'a'.repeat(40) + '\n',
  ])('rejects the malformed token %j', (raw) => {
    expect(parseToken(raw)).toBeNull();
  });

  it('matches a secret only against its own hash', () => {
    const a = issueToken('tmk');
    const b = issueToken('tmk');
    const secretA = parseToken(a.token)!.secret;
    expect(secretMatches(secretA, a.secretHash)).toBe(true);
    expect(secretMatches(secretA, b.secretHash)).toBe(false);
    expect(secretMatches(secretA, null)).toBe(false);
    expect(secretMatches(secretA, Buffer.alloc(3))).toBe(false);
  });

  it('draws base62 characters evenly', () => {
    const counts = new Map<string, number>();
    for (const ch of randomBase62(62_000)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(62);
    // 1000 expected per character; a modulo bias would push the low digits far above that.
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(800);
      expect(n).toBeLessThan(1200);
    }
  });

  it('makes public site keys starting with sk_', () => {
    const key = generateSiteKey();
    expect(key).toMatch(/^sk_[0-9A-Za-z]{20}$/);
    expect(isSiteKey(key)).toBe(true);
    expect(isSiteKey('sk_short')).toBe(false);
    expect(isSiteKey("sk_abcdefghijklmnop' OR 1=1")).toBe(false);
  });
});
