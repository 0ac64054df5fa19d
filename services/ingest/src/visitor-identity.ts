import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { sessionIdAt } from '@tidemark/events';
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
  return sessionIdAt(at, random32());
}

// A randomBytes() call costs microseconds however few bytes it returns (6% of ingest's CPU when
// every request drew its own), so session ids draw from a pool refilled every 1024 ids.
const randomPool = Buffer.alloc(4096);
let randomPoolOffset = randomPool.length;
function random32(): number {
  if (randomPoolOffset === randomPool.length) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const value = randomPool.readUInt32BE(randomPoolOffset);
  randomPoolOffset += 4;
  return value;
}

/**
 * The running session of KEYS[1] with its timeout pushed back, or ARGV[1] as a new session that
 * lasts ARGV[2] seconds. One script, so it is atomic like MULTI { SET NX GET; EXPIRE } but costs
 * one command and one reply, and it can share a pipeline with other visitors' lookups.
 */
const SESSION_LUA = `
local running = redis.call('GET', KEYS[1])
if running then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return running
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]
`;

interface SessionCommands {
  tidemarkSession(key: string, candidate: string, timeoutSeconds: number): Promise<string>;
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
  ) {
    // Defined before any command: a pipeline (auto-pipelining's too) only knows the scripts that
    // existed when it was made.
    redis.defineCommand('tidemarkSession', { numberOfKeys: 1, lua: SESSION_LUA });
  }

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
    const [session] = await this.sessionsFor([{ siteId, visitorId }], at);
    return session!;
  }

  /** `sessionFor` for several visitors at once, in one Redis round trip. */
  async sessionsFor(visitors: readonly { siteId: string; visitorId: string }[], at: Date): Promise<string[]> {
    const redis = this.redis as Redis & SessionCommands;
    const keys = visitors.map((v) => `${this.prefix}:session:${v.siteId}:${v.visitorId}`);
    const candidates = visitors.map(() => newSessionId(at));
    let replies: [Error | null, unknown][];
    try {
      if (keys.length === 1) {
        replies = [[null, await redis.tidemarkSession(keys[0]!, candidates[0]!, this.sessionTimeoutSeconds)]];
      } else {
        const pipeline = redis.pipeline() as unknown as SessionCommands & {
          exec(): Promise<[Error | null, unknown][] | null>;
        };
        keys.forEach((key, i) => pipeline.tidemarkSession(key, candidates[i]!, this.sessionTimeoutSeconds));
        replies = (await pipeline.exec()) ?? [];
      }
    } catch (err) {
      replies = keys.map(() => [err as Error, null]);
    }
    return visitors.map((v, i) => {
      const [err, reply] = replies[i] ?? [new Error('no reply from redis'), null];
      if (!err && typeof reply === 'string') {
        this.healthy();
        return reply;
      }
      this.degraded(err ?? new Error(`unexpected reply from redis: ${String(reply)}`));
      return this.approximateSession(v.siteId, v.visitorId, at);
    });
  }

  /** Without Redis: one session per visitor per timeout window, the same on every replica. */
  private approximateSession(siteId: string, visitorId: string, at: Date): string {
    // The window's start, then a hash that every replica agrees on.
    const windowStart =
      Math.floor(at.getTime() / 1000 / this.sessionTimeoutSeconds) * this.sessionTimeoutSeconds;
    const low = createHash('sha256').update(`${siteId}:${visitorId}:${windowStart}`).digest().readUInt32BE();
    return sessionIdAt(new Date(windowStart * 1000), low);
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
