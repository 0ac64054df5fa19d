import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CacheInvalidation } from '../cache/invalidation';
import { localInvalidation } from '../cache/testing';
import { createSiteListCache } from './site-list-cache';
import type { SiteRow } from './sites.store';

const row = (id: string) => ({ id }) as SiteRow;
const user = { id: 'u1', accountId: 'a1' };

describe('site list cache', () => {
  let invalidation: CacheInvalidation;
  const make = (ttlMs = 60_000) => {
    invalidation = localInvalidation();
    return createSiteListCache(invalidation, { ttlMs });
  };
  afterEach(async () => invalidation?.close());

  it('reads PostgreSQL once per user and token restriction until a change', async () => {
    const cache = make();
    const load = vi.fn(async () => [row('s1'), row('s2')]);
    const restricted = vi.fn(async () => [row('s2')]);
    expect(await cache.list(user, null, load)).toEqual([row('s1'), row('s2')]);
    expect(await cache.list(user, null, load)).toEqual([row('s1'), row('s2')]);
    expect(await cache.list(user, ['s2'], restricted)).toEqual([row('s2')]);
    expect(await cache.list({ id: 'u2', accountId: 'a1' }, null, load)).toHaveLength(2);
    expect(load).toHaveBeenCalledTimes(2);
    expect(restricted).toHaveBeenCalledTimes(1);
    await invalidation.invalidate();
    await cache.list(user, null, load);
    expect(load).toHaveBeenCalledTimes(3);
  });

  it('does not keep a list read while a change was made', async () => {
    const cache = make();
    const stale = vi.fn(async () => {
      await invalidation.invalidate();
      return [row('old')];
    });
    expect(await cache.list(user, null, stale)).toEqual([row('old')]);
    const fresh = vi.fn(async () => [row('new')]);
    expect(await cache.list(user, null, fresh)).toEqual([row('new')]);
    expect(fresh).toHaveBeenCalledTimes(1);
  });

  it('reads PostgreSQL every time with a TTL of 0', async () => {
    const cache = make(0);
    const load = vi.fn(async () => [row('s1')]);
    await cache.list(user, null, load);
    await cache.list(user, null, load);
    expect(load).toHaveBeenCalledTimes(2);
  });
});
