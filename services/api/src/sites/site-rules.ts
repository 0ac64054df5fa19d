import type { Logger } from '@tidemark/logging';
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';

/** Redis channel the ingest service listens on; the message is the changed site's `site_key`. */
export const siteRulesChannel = (redisPrefix: string) => `${redisPrefix}:site-rules:invalidate`;

export interface SiteRulesPublisher {
  /**
   * Tells every ingest replica to drop its cached rules for the site. Best effort, after the commit:
   * if Redis is away the cache's own short expiry applies, so a failure is logged, not returned.
   */
  invalidate(siteKey: string): Promise<void>;
}

export function createSiteRulesPublisher(opts: {
  redis: Redis;
  redisPrefix: string;
  logger: Logger;
  registry: Registry;
}): SiteRulesPublisher {
  const channel = siteRulesChannel(opts.redisPrefix);
  const failures = new Counter({
    name: 'tidemark_api_site_rules_invalidation_failures_total',
    help: 'Site rule cache invalidations that could not be published to Redis',
    registers: [opts.registry],
  });
  return {
    async invalidate(siteKey) {
      try {
        await opts.redis.publish(channel, siteKey);
      } catch (err) {
        failures.inc();
        opts.logger.warn({ err, siteKey }, 'could not publish the site rules invalidation');
      }
    },
  };
}
