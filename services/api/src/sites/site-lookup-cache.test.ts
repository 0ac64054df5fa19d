import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveSiteAccess } from '../auth/site-access';
import type { Principal } from '../auth/principal';
import type { CacheInvalidation } from '../cache/invalidation';
import { localInvalidation } from '../cache/testing';
import type { Queryable } from '../db';
import { createSiteLookupCache, type SiteLookups } from './site-lookup-cache';
import type { SiteRow } from './sites.store';

const SITE_ID = '6f1c1a52-6a55-4b8e-9b53-0d3f8a0b9c11';
const OTHER_ID = '0a1c1a52-6a55-4b8e-9b53-0d3f8a0b9c11';
const siteRow = { id: SITE_ID, account_id: 'a1', site_key: 'sk_x' } as SiteRow;
const user = { id: 'u1', accountId: 'a1', email: 'u@example.com', name: null };
const session: Principal = {
  kind: 'session',
  tokenId: null,
  user,
  permissions: new Set(['stats:read', 'sites:read', 'sites:write']),
  siteIds: null,
};

/** A PostgreSQL stand-in that answers every site lookup with `rows` and counts the queries. */
const fakeDb = (rows: () => unknown[]) => {
  const query = vi.fn(async () => ({ rows: rows() }));
  return { db: { query } as unknown as Queryable, query };
};

describe('site lookups of read-only routes', () => {
  let invalidation: CacheInvalidation;
  let lookups: SiteLookups;
  const make = (ttlMs = 60_000) => {
    invalidation = localInvalidation();
    lookups = createSiteLookupCache(invalidation, { ttlMs });
  };
  afterEach(async () => invalidation?.close());

  it('reads a found site once until a change, and never keeps a miss', async () => {
    make();
    const found = fakeDb(() => [{ ...siteRow, role: 'owner' }]);
    expect(await lookups.forUser(found.db, user, SITE_ID)).toMatchObject({ role: 'owner' });
    expect(await lookups.forUser(found.db, user, SITE_ID)).toMatchObject({ site: { id: SITE_ID } });
    expect(await lookups.byId(found.db, SITE_ID)).toMatchObject({ id: SITE_ID });
    expect(await lookups.byId(found.db, SITE_ID)).toMatchObject({ id: SITE_ID });
    expect(found.query).toHaveBeenCalledTimes(2);
    await invalidation.invalidate();
    await lookups.forUser(found.db, user, SITE_ID);
    expect(found.query).toHaveBeenCalledTimes(3);

    const missing = fakeDb(() => []);
    expect(await lookups.forUser(missing.db, user, OTHER_ID)).toBeNull();
    expect(await lookups.forUser(missing.db, user, OTHER_ID)).toBeNull();
    expect(missing.query).toHaveBeenCalledTimes(2);
  });

  it('serves read-only permissions from the cache and every other from PostgreSQL', async () => {
    make();
    let role = 'owner';
    const { db, query } = fakeDb(() => [{ ...siteRow, role }]);
    await resolveSiteAccess(db, session, SITE_ID, 'stats:read', {}, lookups);
    // Demoted to viewer in PostgreSQL; this replica has not heard of it yet.
    role = 'viewer';
    const read = await resolveSiteAccess(db, session, SITE_ID, 'sites:read', {}, lookups);
    expect(read.role).toBe('owner');
    expect(query).toHaveBeenCalledTimes(1);
    await expect(resolveSiteAccess(db, session, SITE_ID, 'sites:write', {}, lookups)).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(
      resolveSiteAccess(db, session, SITE_ID, 'sites:read', { ownerOnly: true }, lookups),
    ).rejects.toMatchObject({ code: 'forbidden' });
    expect(query).toHaveBeenCalledTimes(3);
  });
});
