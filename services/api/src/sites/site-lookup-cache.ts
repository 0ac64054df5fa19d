import type { SiteRole } from '@tidemark/auth';
import { createLocalCache, type CacheInvalidation } from '../cache/invalidation';
import type { Queryable } from '../db';
import { findSiteById, findSiteForUser, type SiteRow } from './sites.store';

export interface SiteLookups {
  /** `findSiteForUser`: the site `ref` names and the user's role there, or null. */
  forUser(
    db: Queryable,
    user: { id: string; accountId: string },
    ref: string,
  ): Promise<{ site: SiteRow; role: SiteRole } | null>;
  /** `findSiteById`. */
  byId(db: Queryable, id: string): Promise<SiteRow | null>;
}

/** Straight to PostgreSQL: what every route that changes something must see. */
export const freshSiteLookups: SiteLookups = { forUser: findSiteForUser, byId: findSiteById };

/**
 * Every stats request first resolves its site and the caller's role there; dashboards send a dozen
 * at a time. For routes that only read, that lookup is reused for `ttlMs` (0: never) and cleared
 * by every site or team change through `invalidation`, as the site lists are. Only sites found are
 * kept, so unknown refs cannot fill it.
 */
export function createSiteLookupCache(invalidation: CacheInvalidation, opts: { ttlMs: number }): SiteLookups {
  const forUser = createLocalCache<{ site: SiteRow; role: SiteRole }>(invalidation, opts);
  const byId = createLocalCache<SiteRow>(invalidation, opts);
  return {
    forUser: (db, user, ref) =>
      forUser.getOrLoad(`${user.id}/${user.accountId}/${ref}`, () => findSiteForUser(db, user, ref)),
    byId: (db, id) => byId.getOrLoad(id, () => findSiteById(db, id)),
  };
}
