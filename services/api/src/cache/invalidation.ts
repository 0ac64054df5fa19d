import type { Logger } from '@tidemark/logging';
import { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';

/**
 * Redis channel on which every api replica hears that metadata changed. Its name dates from when
 * only resolved tokens were cached; it stays so that replicas of an earlier release still hear it.
 */
const cacheInvalidationChannel = (redisPrefix: string) => `${redisPrefix}:auth:invalidate`;

export interface CacheInvalidation {
  /** A marker to take before reading PostgreSQL, handed to a cache's `set` with what was read. */
  epoch(): number;
  /** Called whenever every cache must forget what it holds: here, on another replica, or after a Redis gap. */
  onClear(listener: () => void): void;
  /**
   * Clears every cache of this process at once and tells the other replicas through Redis. Called
   * after any change to tokens, keys, users, sites or team membership. Changes are rare next to
   * reads, so dropping everything is simpler and safer than tracking which entries a change touches.
   */
  invalidate(): Promise<void>;
  close(): Promise<void>;
}

/**
 * What keeps the api's per-process metadata caches honest across replicas. A change takes effect at
 * once on the replica that made it, on the others as soon as Redis delivers the message, and
 * everywhere within each cache's TTL even if the message is lost while Redis is away.
 *
 * `listen` false (every cache disabled) opens no subscriber connection.
 */
export function createCacheInvalidation(opts: {
  listen: boolean;
  redisUrl: string;
  redisPrefix: string;
  publisher: Pick<Redis, 'publish'>;
  logger: Logger;
  registry: Registry;
}): CacheInvalidation {
  const channel = cacheInvalidationChannel(opts.redisPrefix);
  const listeners: Array<() => void> = [];
  let generation = 0;
  const clear = () => {
    generation++;
    for (const listener of listeners) listener();
  };
  const failures = new Counter({
    name: 'tidemark_api_cache_invalidation_failures_total',
    help: 'Cache invalidations that could not be published to Redis (other replicas fall back to the TTLs)',
    registers: [opts.registry],
  });

  // A subscriber connection of its own (a subscribed connection can run no other command). It keeps
  // reconnecting while Redis is away; after any gap, messages may have been missed, so start clean.
  const subscriber = opts.listen
    ? new Redis(opts.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true })
    : null;
  if (subscriber) {
    subscriber.on('error', () => {});
    subscriber.on('ready', clear);
    subscriber.on('message', (ch: string) => {
      if (ch === channel) clear();
    });
    subscriber.connect().catch(() => {});
    subscriber.subscribe(channel).catch(() => {});
  }

  return {
    epoch: () => generation,
    onClear: (listener) => void listeners.push(listener),
    async invalidate() {
      clear();
      if (!subscriber) return;
      try {
        await opts.publisher.publish(channel, '*');
      } catch (err) {
        failures.inc();
        opts.logger.warn(
          { err },
          'could not publish the cache invalidation; other replicas catch up within their cache TTLs',
        );
      }
    },
    async close() {
      subscriber?.disconnect();
      clear();
    },
  };
}

export interface LocalCache<V> {
  get(key: string): V | undefined;
  /**
   * The value under `key`, else what `load` reads from PostgreSQL, kept (as `set` keeps it) unless
   * it is null: only what was found is kept, so unknown keys cannot fill the cache.
   */
  getOrLoad(key: string, load: () => Promise<V | null>): Promise<V | null>;
  /**
   * Remembers a value read from PostgreSQL, unless an invalidation happened since `epoch` was taken:
   * a read that raced a change must not be kept as if it came after it.
   */
  set(key: string, value: V, epoch: number): void;
}

/**
 * Values read from PostgreSQL, kept in this process for `ttlMs` (0: nothing is kept) and dropped
 * whenever `invalidation` clears. Bounded in entries and, when `weightOf` is given, in total weight
 * (rows, say): past either bound it starts over rather than grow or track recency. A single value
 * heavier than `maxWeight` is not kept at all.
 */
export function createLocalCache<V>(
  invalidation: CacheInvalidation,
  opts: { ttlMs: number; maxEntries?: number; weightOf?: (value: V) => number; maxWeight?: number },
): LocalCache<V> {
  const entries = new Map<string, { value: V; until: number; weight: number }>();
  const maxEntries = opts.maxEntries ?? 10_000;
  const maxWeight = opts.maxWeight ?? Infinity;
  let weight = 0;
  const clear = () => {
    entries.clear();
    weight = 0;
  };
  const remove = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    weight -= entry.weight;
  };
  invalidation.onClear(clear);
  const cache: LocalCache<V> = {
    get(key) {
      if (opts.ttlMs <= 0) return undefined;
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.until <= Date.now()) {
        remove(key);
        return undefined;
      }
      return entry.value;
    },
    async getOrLoad(key, load) {
      const cached = cache.get(key);
      if (cached !== undefined) return cached;
      const epoch = invalidation.epoch();
      const value = await load();
      if (value !== null) cache.set(key, value, epoch);
      return value;
    },
    set(key, value, epoch) {
      if (opts.ttlMs <= 0 || epoch !== invalidation.epoch()) return;
      const valueWeight = opts.weightOf?.(value) ?? 0;
      if (valueWeight > maxWeight) return;
      remove(key);
      if (entries.size >= maxEntries || weight + valueWeight > maxWeight) clear();
      entries.set(key, { value, until: Date.now() + opts.ttlMs, weight: valueWeight });
      weight += valueWeight;
    },
  };
  return cache;
}
