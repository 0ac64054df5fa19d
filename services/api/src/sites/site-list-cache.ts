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
 * restriction for `ttlMs` (0: always read PostgreSQL).
 */
export function createSiteListCache(
  invalidation: CacheInvalidation,
  opts: { ttlMs: number; maxEntries?: number },
): SiteListCache {
  const lists = createLocalCache<readonly SiteRow[]>(invalidation, opts);
  return {
    async list(user, siteIds, load) {
      const key = `${user.id}/${user.accountId}/${siteIds === null ? '*' : siteIds.join(',')}`;
      const cached = lists.get(key);
      if (cached) return cached;
      const epoch = invalidation.epoch();
      const rows = Object.freeze(await load());
      lists.set(key, rows, epoch);
      return rows;
    },
  };
}
