import type { Component } from '@tidemark/runtime';
import { Redis } from 'ioredis';

/**
 * The api's Redis client. Commands fail fast while Redis is away instead of queueing: rate limits
 * then fail open and invalidations are logged, rather than every request waiting on Redis.
 */
export function createRedis(url: string): Redis {
  return new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1_000,
    // Concurrent requests' rate-limit calls leave in one write instead of one syscall each.
    enableAutoPipelining: true,
  });
}

/** Not critical: without Redis the api still answers (rate limits fail open), so /readyz stays 200. */
export function redisComponent(redis: Redis): Component {
  return {
    name: 'redis',
    critical: false,
    healthcheck: async () => {
      await redis.ping();
    },
    onShutdown: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
