import { createLogger } from '@tidemark/logging';
import { createMetricsRegistry } from '@tidemark/runtime';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Principal } from './principal';
import { createPrincipalCache, type PrincipalCache } from './principal-cache';

const principal: Principal = {
  kind: 'site_api_key',
  keyId: 'abc',
  siteId: 'site',
  permissions: new Set(['stats:read']),
};

describe('principal cache', () => {
  let cache: PrincipalCache;
  const published: string[] = [];
  const make = (ttlMs: number) =>
    createPrincipalCache({
      ttlMs,
      // Nothing listens there: the subscriber keeps retrying in the background, as with Redis away.
      redisUrl: 'redis://127.0.0.1:9',
      redisPrefix: 'unit',
      publisher: { publish: async (_c: string, m: string) => published.push(m) } as unknown as Redis,
      logger: createLogger({ name: 'test', level: 'silent', format: 'json' }),
      registry: createMetricsRegistry('test'),
    });
  afterEach(async () => {
    vi.useRealTimers();
    await cache?.close();
  });

  it('answers within the TTL and forgets after it', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    cache = make(1_000);
    cache.set('tmk_x', principal, null, cache.epoch());
    expect(cache.get('tmk_x')).toBe(principal);
    expect(cache.get('tmk_other')).toBeUndefined();
    vi.advanceTimersByTime(1_001);
    expect(cache.get('tmk_x')).toBeUndefined();
  });

  it('refuses a cached token once its own expiry passes, even within the TTL', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    cache = make(60_000);
    cache.set('tmk_x', principal, new Date(Date.now() + 500), cache.epoch());
    expect(cache.get('tmk_x')).toBe(principal);
    vi.advanceTimersByTime(500);
    expect(cache.get('tmk_x')).toBeNull();
  });

  it('does not keep a read that raced an invalidation, and tells the other replicas', async () => {
    cache = make(60_000);
    const before = cache.epoch();
    await cache.invalidate();
    cache.set('tmk_x', principal, null, before);
    expect(cache.get('tmk_x')).toBeUndefined();
    cache.set('tmk_x', principal, null, cache.epoch());
    expect(cache.get('tmk_x')).toBe(principal);
    await cache.invalidate();
    expect(cache.get('tmk_x')).toBeUndefined();
    expect(published).toEqual(['*', '*']);
  });

  it('caches nothing with a TTL of 0', () => {
    cache = make(0);
    cache.set('tmk_x', principal, null, cache.epoch());
    expect(cache.get('tmk_x')).toBeUndefined();
  });
});
