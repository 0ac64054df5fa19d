import { ApiError } from '@tidemark/http';
import {
  createWebhookDeliveryQueue,
  enqueueDelivery,
  enqueueRedelivery,
  siteConfigChannel,
  type WebhookDeliveryQueue,
} from '@tidemark/queues';
import { withTimeout } from '@tidemark/runtime';
import fp from 'fastify-plugin';
import type { ApiConfig } from '../config';
import { createRedis } from '../redis';

declare module 'fastify' {
  interface FastifyInstance {
    /** What the goal, funnel, alert and webhook routes tell other services. */
    siteConfig: SiteConfigEffects;
  }
}

export interface SiteConfigEffects {
  /**
   * After a commit that changed a site's goals or webhook subscriptions: consumers drop their
   * cached copy. Best effort: if Redis is away the failure is logged and their cache's short expiry
   * applies.
   */
  changed(siteId: string): Promise<void>;
  /** A delivery created by `createTestDelivery`, for the worker; 503 if Redis cannot take it now. */
  deliver(deliveryId: string): Promise<void>;
  /** One more attempt of an existing delivery; 503 if Redis cannot take it now. */
  redeliver(deliveryId: string): Promise<void>;
}

/** A request waits this long for Redis at most, then answers 503. */
const ENQUEUE_TIMEOUT_MS = 3_000;

/**
 * The Redis clients of the configuration routes: a publisher and the webhook delivery queue. Both
 * fail fast while Redis is away (BullMQ would otherwise hold a request until Redis returns).
 */
export const siteConfigPlugin = fp<{ config: ApiConfig }>(
  async (app, { config }) => {
    const publisher = createRedis(config.REDIS_URL);
    publisher.on('error', (err) => app.log.debug({ err: err.message }, 'redis (site config publisher)'));
    await publisher
      .connect()
      .catch((err: Error) =>
        app.log.warn({ err: err.message }, 'redis unreachable; invalidations will fail'),
      );
    const queue: WebhookDeliveryQueue = createWebhookDeliveryQueue(
      { url: config.REDIS_URL, prefix: config.REDIS_PREFIX },
      { maxRetriesPerRequest: 1, commandTimeout: ENQUEUE_TIMEOUT_MS },
    );
    queue.on('error', (err) => app.log.debug({ err: err.message }, 'redis (webhook delivery queue)'));
    const channel = siteConfigChannel(config.REDIS_PREFIX);

    const enqueue = async (what: string, work: Promise<void>) => {
      try {
        await withTimeout(work, ENQUEUE_TIMEOUT_MS, 'redis did not answer in time');
      } catch (err) {
        app.log.error({ err }, `could not enqueue a ${what}`);
        throw ApiError.unavailable('the delivery queue is unavailable; retry later', 30);
      }
    };

    app.decorate('siteConfig', {
      async changed(siteId) {
        try {
          await publisher.publish(channel, siteId);
        } catch (err) {
          app.log.warn({ err, siteId }, 'could not publish the site config invalidation');
        }
      },
      deliver: (deliveryId) => enqueue('test delivery', enqueueDelivery(queue, deliveryId)),
      redeliver: (deliveryId) => enqueue('redelivery', enqueueRedelivery(queue, deliveryId)),
    } satisfies SiteConfigEffects);

    app.addHook('onClose', async () => {
      await queue.close().catch(() => {});
      await publisher.quit().catch(() => publisher.disconnect());
    });
  },
  { name: 'tidemark-site-config' },
);
