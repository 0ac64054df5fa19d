import { createLogger } from '@tidemark/logging';
import { createMetricsRegistry } from '@tidemark/runtime';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCacheInvalidation, createLocalCache, type CacheInvalidation } from './invalidation';

describe('cache invalidation', () => {
  let invalidation: CacheInvalidation;
  const published: string[] = [];
  const make = (opts: { listen?: boolean; publish?: () => Promise<number> } = {}) =>
    createCacheInvalidation({
      listen: opts.listen ?? true,
      // Nothing listens there: the subscriber keeps retrying in the background, as with Redis away.
      redisUrl: 'redis://127.0.0.1:9',
      redisPrefix: 'unit',
      publisher: {
        publish: opts.publish ?? (async (_c: string, m: string) => published.push(m)),
      },
      logger: createLogger({ name: 'test', level: 'silent', format: 'json' }),
      registry: createMetricsRegistry('test'),
    });
  afterEach(async () => {
    vi.useRealTimers();
    published.length = 0;
    await invalidation?.close();
  });

  it('answers within the TTL and forgets after it', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    invalidation = make();
    const cache = createLocalCache<string>(invalidation, { ttlMs: 1_000 });
    cache.set('a', 'A', invalidation.epoch());
    expect(cache.get('a')).toBe('A');
    expect(cache.get('b')).toBeUndefined();
    vi.advanceTimersByTime(1_001);
    expect(cache.get('a')).toBeUndefined();
  });

  it('clears every cache at once, tells the other replicas, and drops a read that raced it', async () => {
    invalidation = make();
    const tokens = createLocalCache<string>(invalidation, { ttlMs: 60_000 });
    const lists = createLocalCache<string>(invalidation, { ttlMs: 60_000 });
    tokens.set('t', 'T', invalidation.epoch());
    const before = invalidation.epoch();
    await invalidation.invalidate();
    expect(tokens.get('t')).toBeUndefined();
    lists.set('l', 'stale', before);
    expect(lists.get('l')).toBeUndefined();
    lists.set('l', 'fresh', invalidation.epoch());
    expect(lists.get('l')).toBe('fresh');
    await invalidation.invalidate();
    expect(lists.get('l')).toBeUndefined();
    expect(published).toEqual(['*', '*']);
  });

  it('still clears this replica when Redis refuses the message', async () => {
    invalidation = make({ publish: () => Promise.reject(new Error('connection refused')) });
    const cache = createLocalCache<string>(invalidation, { ttlMs: 60_000 });
    cache.set('a', 'A', invalidation.epoch());
    await expect(invalidation.invalidate()).resolves.toBeUndefined();
    expect(cache.get('a')).toBeUndefined();
  });

  it('publishes nothing when no cache is enabled, and a TTL of 0 keeps nothing', async () => {
    invalidation = make({ listen: false });
    const cache = createLocalCache<string>(invalidation, { ttlMs: 0 });
    cache.set('a', 'A', invalidation.epoch());
    expect(cache.get('a')).toBeUndefined();
    await invalidation.invalidate();
    expect(published).toEqual([]);
  });

  it('starts over instead of growing past its bound', () => {
    invalidation = make();
    const cache = createLocalCache<number>(invalidation, { ttlMs: 60_000, maxEntries: 3 });
    for (let i = 0; i < 3; i++) cache.set(`k${i}`, i, invalidation.epoch());
    expect(cache.get('k2')).toBe(2);
    cache.set('k3', 3, invalidation.epoch());
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.get('k3')).toBe(3);
  });

  it('stays within its total weight, and keeps nothing heavier than it', () => {
    invalidation = make();
    const cache = createLocalCache<number[]>(invalidation, {
      ttlMs: 60_000,
      weightOf: (rows) => rows.length,
      maxWeight: 10,
    });
    cache.set('a', [1, 2, 3, 4], invalidation.epoch());
    cache.set('b', [1, 2, 3, 4], invalidation.epoch());
    // Replacing a key counts its new weight only.
    cache.set('b', [1, 2, 3, 4, 5, 6], invalidation.epoch());
    expect(cache.get('a')).toHaveLength(4);
    expect(cache.get('b')).toHaveLength(6);
    cache.set('c', [1], invalidation.epoch());
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('c')).toEqual([1]);
    cache.set(
      'huge',
      Array.from({ length: 11 }, (_, i) => i),
      invalidation.epoch(),
    );
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.get('c')).toEqual([1]);
  });
});
