import type { Pool } from '@tidemark/db';
import type { Logger } from '@tidemark/logging';
import { siteConfigChannel } from '@tidemark/queues';
import type { Redis } from 'ioredis';

/** A goal as the consumer matches it (goals table: exactly one of the two is set). */
export interface GoalRule {
  name: string;
  eventName: string | null;
  /** Exact, or a prefix when it ends in `*`. */
  pagePath: string | null;
}

/** The event types the consumer fans out to webhooks itself; the worker sends the others. */
export type FanoutType = 'pageview' | 'event';

/** What the consumer needs to know about a site to tell the worker about its stored events. */
export interface SiteConfig {
  goals: readonly GoalRule[];
  /** Types with at least one enabled webhook subscription. */
  fanout: ReadonlySet<FanoutType>;
}

interface Entry {
  config: SiteConfig;
  expiresAt: number;
}

export interface SiteConfigCacheOptions {
  pool: Pick<Pool, 'query'>;
  ttlMs: number;
  logger: Logger;
  /** Called with the number of sites answered from an expired entry because PostgreSQL failed. */
  onStale: (sites: number) => void;
}

/**
 * Per-site goals and subscribed event types, read from PostgreSQL through a short-lived cache: every
 * batch needs them for every site it holds, and they change rarely. The api publishes the site id
 * after a change and the entry expires at once; the TTL bounds staleness when Redis is away.
 *
 * Expired entries are kept: when PostgreSQL fails, a site seen before is answered from its last
 * known state (a change made just before the outage may be missed until PostgreSQL is back), so a
 * PostgreSQL outage holds only batches with a site never seen by this process.
 */
export class SiteConfigCache {
  private readonly entries = new Map<string, Entry>();
  private static readonly MAX_ENTRIES = 100_000;

  constructor(private readonly opts: SiteConfigCacheOptions) {}

  /** The config of each site; rejects only when PostgreSQL fails and a site has no entry at all. */
  async get(siteIds: Iterable<string>): Promise<Map<string, SiteConfig>> {
    const now = Date.now();
    const configs = new Map<string, SiteConfig>();
    const due: string[] = [];
    for (const id of new Set(siteIds)) {
      const entry = this.entries.get(id);
      if (entry && entry.expiresAt > now) configs.set(id, entry.config);
      else due.push(id);
    }
    if (due.length === 0) return configs;
    let loaded: Map<string, SiteConfig>;
    try {
      loaded = await this.load(due);
    } catch (err) {
      if (due.some((id) => !this.entries.has(id))) throw err;
      this.opts.onStale(due.length);
      this.opts.logger.warn(
        { err: (err as Error).message, sites: due.length },
        'could not refresh site goals and webhook subscriptions; using the last known ones',
      );
      for (const id of due) configs.set(id, this.entries.get(id)!.config);
      return configs;
    }
    if (this.entries.size + loaded.size > SiteConfigCache.MAX_ENTRIES) this.entries.clear();
    const expiresAt = Date.now() + this.opts.ttlMs;
    for (const [id, config] of loaded) {
      this.entries.set(id, { config, expiresAt });
      configs.set(id, config);
    }
    return configs;
  }

  /** Expires one site (the api changed it) or all (we may have missed messages). */
  invalidate(siteId?: string): void {
    if (siteId === undefined) for (const entry of this.entries.values()) entry.expiresAt = 0;
    else {
      const entry = this.entries.get(siteId);
      if (entry) entry.expiresAt = 0;
    }
  }

  /** Listens for the api's invalidations on `<prefix>:site-config:invalidate`. */
  async subscribe(subscriber: Redis, prefix: string): Promise<void> {
    const channel = siteConfigChannel(prefix);
    subscriber.on('message', (ch: string, message: string) => {
      if (ch === channel) this.invalidate(message || undefined);
    });
    // After a reconnect messages may have been missed: refresh everything on next use.
    subscriber.on('ready', () => this.invalidate());
    await subscriber.subscribe(channel);
  }

  private async load(siteIds: string[]): Promise<Map<string, SiteConfig>> {
    const { rows } = await this.opts.pool.query<{
      ref: string;
      goals: Array<{ name: string; event_name: string | null; page_path: string | null }>;
      fanout: FanoutType[];
    }>(
      `SELECT s.ref,
              COALESCE((SELECT json_agg(json_build_object('name', g.name, 'event_name', g.event_name,
                                                          'page_path', g.page_path) ORDER BY g.name)
                          FROM goals g WHERE g.site_id = s.ref::uuid), '[]'::json) AS goals,
              ARRAY(SELECT DISTINCT e FROM webhook_subscriptions w, unnest(w.events) AS e
                     WHERE w.site_id = s.ref::uuid AND w.is_enabled AND e IN ('pageview', 'event')) AS fanout
         FROM unnest($1::text[]) AS s(ref)`,
      [siteIds],
    );
    return new Map(
      rows.map((r) => [
        r.ref,
        {
          goals: r.goals.map((g) => ({ name: g.name, eventName: g.event_name, pagePath: g.page_path })),
          fanout: new Set(r.fanout),
        },
      ]),
    );
  }
}
