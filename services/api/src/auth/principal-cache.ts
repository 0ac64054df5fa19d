import { createHash } from 'node:crypto';
import type { Logger } from '@tidemark/logging';
import { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import type { Principal } from './principal';

/** Redis channel on which every api replica hears that tokens, keys or users changed. */
export const authInvalidationChannel = (redisPrefix: string) => `${redisPrefix}:auth:invalidate`;

interface Entry {
  principal: Principal;
  /** The token's own expiry (ms since epoch), checked on every hit. */
  tokenExpiresAt: number | null;
  cachedUntil: number;
}

export interface PrincipalCache {
  /** The principal for this raw token if it was resolved within the TTL and has not expired since. */
  get(rawToken: string): Principal | null | undefined;
  /** A marker to take before reading the database, handed back to `set`. */
  epoch(): number;
  /**
   * Remembers a principal read from the database, unless an invalidation happened since `epoch`
   * was taken: a read that raced a revocation must not be cached as if it came after it.
   */
  set(rawToken: string, principal: Principal, tokenExpiresAt: Date | null, epoch: number): void;
  /**
   * Forgets every cached principal here at once, and tells the other replicas through Redis. Called
   * after any change that can make a token invalid or change what it resolves to (revoke, roll,
   * delete, user updates). Changes are rare, so dropping everything is simpler than tracking keys.
   */
  invalidate(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Bearer tokens resolved to principals, kept in memory for a few seconds so a busy client does not
 * cost a PostgreSQL lookup per request. A change takes effect at once on the replica that made it,
 * on the others as soon as Redis delivers the invalidation, and everywhere within `ttlMs` even if
 * that message is lost (Redis away), which is the bound `AUTH_CACHE_TTL_MS` documents.
 *
 * Keyed by a SHA-256 of the token, so the map never holds a usable secret.
 */
export function createPrincipalCache(opts: {
  ttlMs: number;
  maxEntries?: number;
  redisUrl: string;
  redisPrefix: string;
  publisher: Redis;
  logger: Logger;
  registry: Registry;
}): PrincipalCache {
  const entries = new Map<string, Entry>();
  const maxEntries = opts.maxEntries ?? 10_000;
  const channel = authInvalidationChannel(opts.redisPrefix);
  let generation = 0;
  const clear = () => {
    generation++;
    entries.clear();
  };
  const failures = new Counter({
    name: 'tidemark_api_auth_invalidation_failures_total',
    help: 'Auth cache invalidations that could not be published to Redis (other replicas fall back to the TTL)',
    registers: [opts.registry],
  });

  // A subscriber connection of its own (a subscribed connection can run no other command). It keeps
  // reconnecting while Redis is away; after any gap, messages may have been missed, so start clean.
  const subscriber =
    opts.ttlMs > 0 ? new Redis(opts.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true }) : null;
  if (subscriber) {
    subscriber.on('error', () => {});
    subscriber.on('ready', clear);
    subscriber.on('message', (ch: string) => {
      if (ch === channel) clear();
    });
    subscriber.connect().catch(() => {});
    subscriber.subscribe(channel).catch(() => {});
  }

  const keyOf = (raw: string) => createHash('sha256').update(raw).digest('base64url');

  return {
    get(raw) {
      if (opts.ttlMs <= 0) return undefined;
      const key = keyOf(raw);
      const entry = entries.get(key);
      if (!entry) return undefined;
      const now = Date.now();
      if (entry.cachedUntil <= now) {
        entries.delete(key);
        return undefined;
      }
      if (entry.tokenExpiresAt !== null && entry.tokenExpiresAt <= now) {
        entries.delete(key);
        return null;
      }
      return entry.principal;
    },
    epoch: () => generation,
    set(raw, principal, tokenExpiresAt, epoch) {
      if (opts.ttlMs <= 0 || epoch !== generation) return;
      // Bounded memory under a flood of distinct valid tokens: start over rather than track recency.
      if (entries.size >= maxEntries) entries.clear();
      entries.set(keyOf(raw), {
        principal,
        tokenExpiresAt: tokenExpiresAt?.getTime() ?? null,
        cachedUntil: Date.now() + opts.ttlMs,
      });
    },
    async invalidate() {
      clear();
      if (!subscriber) return;
      try {
        await opts.publisher.publish(channel, '*');
      } catch (err) {
        failures.inc();
        opts.logger.warn(
          { err },
          'could not publish the auth cache invalidation; other replicas catch up within AUTH_CACHE_TTL_MS',
        );
      }
    },
    async close() {
      subscriber?.disconnect();
      entries.clear();
    },
  };
}
