import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from '@tidemark/logging';
import type { Component } from '@tidemark/runtime';
import type { Redis } from 'ioredis';

const SALT_TTL_SECONDS = 2 * 24 * 3600;

const utcDay = (at: Date) => at.toISOString().slice(0, 10);

/**
 * A session id whose high 32 bits are the session's start (Unix seconds) and low 32 bits random:
 * `sessions` is ordered by (site_id, session_id), so a stats query can skip every session that
 * started long before its period instead of merging a site's whole history.
 */
export function newSessionId(at: Date): string {
  const start = BigInt(Math.floor(at.getTime() / 1000)) & 0xffff_ffffn;
  return ((start << 32n) | BigInt(randomBytes(4).readUInt32BE())).toString();
}

/**
 * Visitor ids are a keyed hash of (daily salt, site, IP, user agent); sessions continue while a
 * visitor's events arrive within the timeout. Both live in Redis so every ingest replica agrees.
 *
 * The salt for a UTC day is created once (SET NX) and expires after two days, so yesterday's salt
 * is gone the day after: nobody, not even us, can link a visitor across days afterwards.
 *
 * Without Redis, ingest keeps accepting events but degrades: a replica-local salt (visitor ids then
 * differ between replicas) and a session per visitor per timeout window. `/readyz` and the log say so.
 */
export class VisitorIdentity {
  private salts = new Map<string, Buffer>();
  private degradedSince: number | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly sessionTimeoutSeconds: number,
    private readonly logger: Logger,
  ) {}

  async saltFor(at: Date): Promise<Buffer> {
    const day = utcDay(at);
    const cached = this.salts.get(day);
    if (cached) return cached;
    const key = `${this.prefix}:salt:${day}`;
    let salt: Buffer;
    try {
      const candidate = randomBytes(32).toString('base64');
      await this.redis.set(key, candidate, 'EX', SALT_TTL_SECONDS, 'NX');
      const stored = await this.redis.get(key);
      salt = Buffer.from(stored ?? candidate, 'base64');
      this.healthy();
    } catch (err) {
      this.degraded(err as Error);
      // Not cached: the next event tries Redis again so replicas converge once it is back.
      return this.localSalt(day);
    }
    this.salts = new Map([...this.salts].filter(([d]) => d >= utcDay(new Date(at.getTime() - 86_400_000))));
    this.salts.set(day, salt);
    return salt;
  }

  private readonly localSalts = new Map<string, Buffer>();
  private localSalt(day: string): Buffer {
    let salt = this.localSalts.get(day);
    if (!salt) {
      this.localSalts.clear();
      salt = randomBytes(32);
      this.localSalts.set(day, salt);
    }
    return salt;
  }

  /**
   * The visitor's current session id (unsigned 64-bit decimal string): the running one when their
   * previous event came within the timeout, a new one otherwise.
   */
  async sessionFor(siteId: string, visitorId: string, at: Date): Promise<string> {
    const key = `${this.prefix}:session:${siteId}:${visitorId}`;
    const candidate = newSessionId(at);
    try {
      const results = await this.redis
        .multi()
        .set(key, candidate, 'EX', this.sessionTimeoutSeconds, 'NX', 'GET')
        .expire(key, this.sessionTimeoutSeconds)
        .exec();
      this.healthy();
      const existing = results?.[0]?.[1];
      return typeof existing === 'string' ? existing : candidate;
    } catch (err) {
      this.degraded(err as Error);
      // Same layout as newSessionId: the window's start, then a hash that every replica agrees on.
      const windowStart =
        Math.floor(at.getTime() / 1000 / this.sessionTimeoutSeconds) * this.sessionTimeoutSeconds;
      const low = createHash('sha256')
        .update(`${siteId}:${visitorId}:${windowStart}`)
        .digest()
        .readUInt32BE();
      return ((BigInt(windowStart) << 32n) | BigInt(low)).toString();
    }
  }

  private degraded(err: Error) {
    if (this.degradedSince === undefined) {
      this.degradedSince = Date.now();
      this.logger.error(
        { err: err.message },
        'redis unavailable: accepting events with replica-local visitor salts and approximate sessions',
      );
    }
  }

  private healthy() {
    if (this.degradedSince !== undefined) {
      this.logger.warn(
        { degradedForMs: Date.now() - this.degradedSince },
        'redis is back: sessions are exact again',
      );
      this.degradedSince = undefined;
    }
  }

  /** Not critical: ingest keeps accepting events while Redis is down, and /readyz says so. */
  component(): Component {
    return {
      name: 'redis',
      critical: false,
      healthcheck: async () => {
        await this.redis.ping();
      },
      onShutdown: async () => {
        this.redis.disconnect();
      },
    };
  }
}
