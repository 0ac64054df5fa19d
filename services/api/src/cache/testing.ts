import { createLogger } from '@tidemark/logging';
import { createMetricsRegistry } from '@tidemark/runtime';
import { createCacheInvalidation, type CacheInvalidation } from './invalidation';

/** Tests only: an invalidation that reaches no other replica (no Redis connection at all). */
export const localInvalidation = (): CacheInvalidation =>
  createCacheInvalidation({
    listen: false,
    redisUrl: 'redis://127.0.0.1:9',
    redisPrefix: 'unit',
    publisher: { publish: async () => 0 },
    logger: createLogger({ name: 'test', level: 'silent', format: 'json' }),
    registry: createMetricsRegistry('test'),
  });
