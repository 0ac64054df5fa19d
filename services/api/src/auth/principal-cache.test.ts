import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CacheInvalidation } from '../cache/invalidation';
import { localInvalidation } from '../cache/testing';
import type { Principal } from './principal';
import { createPrincipalCache } from './principal-cache';

const principal: Principal = {
  kind: 'site_api_key',
  keyId: 'abc',
  siteId: 'site',
  permissions: new Set(['stats:read']),
};

describe('principal cache', () => {
  let invalidation: CacheInvalidation;
  const make = (ttlMs: number) => {
    invalidation = localInvalidation();
    return createPrincipalCache(invalidation, { ttlMs });
  };
  afterEach(async () => {
    vi.useRealTimers();
    await invalidation?.close();
  });

  it('answers within the TTL, per token, and forgets on invalidation', async () => {
    const cache = make(60_000);
    cache.set('tmk_x', principal, null, cache.epoch());
    expect(cache.get('tmk_x')).toBe(principal);
    expect(cache.get('tmk_other')).toBeUndefined();
    await invalidation.invalidate();
    expect(cache.get('tmk_x')).toBeUndefined();
  });

  it('refuses a cached token once its own expiry passes, even within the TTL', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const cache = make(60_000);
    cache.set('tmk_x', principal, new Date(Date.now() + 500), cache.epoch());
    expect(cache.get('tmk_x')).toBe(principal);
    vi.advanceTimersByTime(500);
    expect(cache.get('tmk_x')).toBeNull();
  });

  it('caches nothing with a TTL of 0', () => {
    const cache = make(0);
    cache.set('tmk_x', principal, null, cache.epoch());
    expect(cache.get('tmk_x')).toBeUndefined();
  });
});
