import type { Pool } from '@tidemark/db';
import type { Logger } from '@tidemark/logging';
import { compileSiteRules, type SiteRules } from '@tidemark/enrichment';
import type { Redis } from 'ioredis';

export interface KnownSite {
  id: string;
  siteKey: string;
  rules: SiteRules;
}

interface CacheEntry {
  site: KnownSite | null;
  expiresAt: number;
}

/**
 * Site rules by `site_key`, read from PostgreSQL through a short-lived cache: beacons for one site
 * arrive thousands of times a second and its settings change rarely. A site update publishes the
 * key on Redis and every replica drops it at once; the TTL bounds staleness when Redis is down.
 * Unknown keys are cached too (briefly), so a flood of bad keys does not reach the database.
 */
export class SiteDirectory {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly loading = new Map<string, Promise<KnownSite | null>>();
  private static readonly MAX_ENTRIES = 100_000;

  constructor(
    private readonly pool: Pool,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  async get(siteKey: string): Promise<KnownSite | null> {
    const hit = this.cache.get(siteKey);
    if (hit && hit.expiresAt > Date.now()) return hit.site;
    let pending = this.loading.get(siteKey);
    if (!pending) {
      pending = this.load(siteKey).finally(() => this.loading.delete(siteKey));
      this.loading.set(siteKey, pending);
    }
    return pending;
  }

  invalidate(siteKey?: string): void {
    if (siteKey) this.cache.delete(siteKey);
    else this.cache.clear();
  }

  /** Listens for invalidations published by the api on `<prefix>:site-rules:invalidate`. */
  async subscribe(subscriber: Redis, prefix: string): Promise<void> {
    const channel = `${prefix}:site-rules:invalidate`;
    subscriber.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      this.invalidate(message || undefined);
    });
    // After a reconnect we may have missed messages: drop everything rather than serve stale rules.
    subscriber.on('ready', () => this.invalidate());
    await subscriber.subscribe(channel);
  }

  private async load(siteKey: string): Promise<KnownSite | null> {
    const { rows } = await this.pool.query<{
      id: string;
      site_key: string;
      excluded_ips: string[];
      excluded_paths: string[];
      excluded_countries: string[];
      allowed_hostnames: string[];
    }>(
      `SELECT id, site_key, excluded_ips, excluded_paths, excluded_countries, allowed_hostnames
         FROM sites WHERE site_key = $1`,
      [siteKey],
    );
    const row = rows[0];
    let site: KnownSite | null = null;
    if (row) {
      try {
        site = {
          id: row.id,
          siteKey: row.site_key,
          rules: compileSiteRules({
            excluded_ips: row.excluded_ips ?? [],
            excluded_paths: row.excluded_paths ?? [],
            excluded_countries: row.excluded_countries ?? [],
            allowed_hostnames: row.allowed_hostnames ?? [],
          }),
        };
      } catch (err) {
        // The api validates settings, so this means a bad row: track the site rather than drop its events.
        this.logger.error({ err, siteKey }, 'site rules do not compile; tracking without exclusions');
        site = {
          id: row.id,
          siteKey: row.site_key,
          rules: compileSiteRules({
            excluded_ips: [],
            excluded_paths: [],
            excluded_countries: [],
            allowed_hostnames: [],
          }),
        };
      }
    }
    if (this.cache.size >= SiteDirectory.MAX_ENTRIES) this.cache.clear();
    this.cache.set(siteKey, {
      site,
      expiresAt: Date.now() + (site ? this.ttlMs : Math.min(this.ttlMs, 5_000)),
    });
    return site;
  }
}
