import type { Redis } from 'ioredis';

/**
 * BullMQ loses jobs silently if Redis evicts keys under memory pressure; only `noeviction` is safe.
 * Returns the current policy so the caller can warn.
 */
export async function redisEvictionPolicy(redis: Redis): Promise<string> {
  const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
  return reply[1] ?? 'unknown';
}
