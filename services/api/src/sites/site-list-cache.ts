import { createLocalCache, type CacheInvalidation } from '../cache/invalidation';
import type { SiteRow } from './sites.store';

export interface SiteListCache {
  /** The sites `user` can see within a token's restriction, from the cache or else from `load`. */
  list(
    user: { id: string; accountId: string },
    siteIds: readonly string[] | null,
    load: () => Promise<SiteRow[]>,
  ): Promise<readonly SiteRow[]>;
}

/**
 * `GET /sites` is what dashboards and scripts poll most; the list changes only when a site or a
 * membership does, and every such change clears it through `invalidation`. Kept per user and token
 * restriction for `ttlMs` (0: always read PostgreSQL), up to `maxRows` sites in all (an agency's
 * users may each see thousands).
 */
export function createSiteListCache(
  invalidation: CacheInvalidation,
  opts: { ttlMs: number; maxRows?: number },
): SiteListCache {
  const lists = createLocalCache<readonly SiteRow[]>(invalidation, {
    ttlMs: opts.ttlMs,
    weightOf: (rows) => rows.length + 1,
    maxWeight: opts.maxRows ?? 100_000,
  });
  return {
    async list(user, siteIds, load) {
      const key = `${user.id}/${user.accountId}/${siteIds === null ? '*' : siteIds.join(',')}`;
      return (await lists.getOrLoad(key, async () => Object.freeze(await load())))!;
    },
  };
}
