import { hash } from 'node:crypto';
import { createLocalCache, type CacheInvalidation } from '../cache/invalidation';
import type { Principal } from './principal';

interface Entry {
  principal: Principal;
  /** The token's own expiry (ms since epoch), checked on every hit. */
  tokenExpiresAt: number | null;
}

export interface PrincipalCache {
  /**
   * The principal for this raw token if it was resolved within the TTL; null when it was, but the
   * token's own expiry has passed since.
   */
  get(rawToken: string): Principal | null | undefined;
  /** A marker to take before reading the database, handed back to `set`. */
  epoch(): number;
  /** Remembers a principal read from the database, unless the caches were cleared since `epoch`. */
  set(rawToken: string, principal: Principal, tokenExpiresAt: Date | null, epoch: number): void;
}

/**
 * Bearer tokens resolved to principals, kept in memory for `ttlMs` so a busy client does not cost a
 * PostgreSQL lookup per request. Revoking, rolling or deleting a token, or changing its user, clears
 * it through `invalidation` (see there for how that reaches the other replicas).
 *
 * Keyed by a SHA-256 of the token, so the map never holds a usable secret.
 */
export function createPrincipalCache(
  invalidation: CacheInvalidation,
  opts: { ttlMs: number; maxEntries?: number },
): PrincipalCache {
  const entries = createLocalCache<Entry>(invalidation, opts);
  const keyOf = (raw: string) => hash('sha256', raw, 'base64url');
  return {
    get(raw) {
      const entry = entries.get(keyOf(raw));
      if (!entry) return undefined;
      if (entry.tokenExpiresAt !== null && entry.tokenExpiresAt <= Date.now()) return null;
      return entry.principal;
    },
    epoch: () => invalidation.epoch(),
    set(raw, principal, tokenExpiresAt, epoch) {
      entries.set(keyOf(raw), { principal, tokenExpiresAt: tokenExpiresAt?.getTime() ?? null }, epoch);
    },
  };
}
