import { ApiError } from '@tidemark/http';
import type { Logger } from '@tidemark/logging';
import type { FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import { RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface RateLimits {
  /**
   * Counts /api/v1 requests by client IP before authentication, so token and password guessing are
   * throttled: every request except those carrying a token the process already knows (`countsAgainstIp`).
   */
  byIp(ip: string, reply: FastifyReply): Promise<void>;
  /** Counts authenticated requests by token (session tokens by user, so logging in again gives no new budget). */
  byToken(key: string, reply: FastifyReply): Promise<void>;
}

/**
 * Limits live in Redis, so they hold across every api process. If Redis fails, requests pass (fail
 * open) and `tidemark_api_rate_limit_store_errors_total` counts them: availability of the admin and
 * stats API is worth more than exact limits for the minutes Redis is away (/readyz shows redis as a
 * failing non-critical check meanwhile).
 */
export function createRateLimits(opts: {
  redis: Redis;
  redisPrefix: string;
  perTokenPerHour: number;
  perIpPerMinute: number;
  logger: Logger;
  registry: Registry;
}): RateLimits {
  const storeErrors = new Counter({
    name: 'tidemark_api_rate_limit_store_errors_total',
    help: 'Requests let through without a rate limit decision because Redis failed',
    registers: [opts.registry],
  });
  const rejected = new Counter({
    name: 'tidemark_api_rate_limited_total',
    help: 'Requests answered 429',
    labelNames: ['limit'],
    registers: [opts.registry],
  });
  const common = { storeClient: opts.redis, rejectIfRedisNotReady: true };
  const ip = new RateLimiterRedis({
    ...common,
    keyPrefix: `${opts.redisPrefix}:rl:ip`,
    points: opts.perIpPerMinute,
    duration: 60,
  });
  const token = new RateLimiterRedis({
    ...common,
    keyPrefix: `${opts.redisPrefix}:rl:token`,
    points: opts.perTokenPerHour,
    duration: 3600,
  });

  const ipTurns = new TurnCoalescer(ip);
  const tokenTurns = new TurnCoalescer(token);

  let lastWarning = 0;
  const consume = async (turns: TurnCoalescer, name: string, key: string, reply: FastifyReply) => {
    const limiter = turns.limiter;
    try {
      const res = await turns.consume(key);
      setHeaders(reply, limiter.points, res);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        rejected.inc({ limit: name });
        const retryAfter = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        throw new ApiError(
          'rate_limited',
          `too many requests (${limiter.points} per ${limiter.duration === 60 ? 'minute per IP' : 'hour per token'}); retry in ${retryAfter} s`,
          undefined,
          {
            ...headersFor(limiter.points, err),
            'retry-after': String(retryAfter),
            'cache-control': 'no-store',
          },
        );
      }
      storeErrors.inc();
      // One line per 30 s at most: when Redis is down every request would log otherwise.
      if (Date.now() - lastWarning > 30_000) {
        lastWarning = Date.now();
        opts.logger.warn({ err }, 'rate limit store unavailable; letting requests through');
      }
    }
  };

  return {
    byIp: (address, reply) => consume(ipTurns, 'ip', address, reply),
    byToken: (key, reply) => consume(tokenTurns, 'token', key, reply),
  };
}

function headersFor(limit: number, res: RateLimiterRes): Record<string, string> {
  return {
    'x-ratelimit-limit': String(limit),
    'x-ratelimit-remaining': String(Math.max(0, res.remainingPoints)),
    'x-ratelimit-reset': String(Math.ceil((Date.now() + res.msBeforeNext) / 1000)),
  };
}

function setHeaders(reply: FastifyReply, limit: number, res: RateLimiterRes) {
  for (const [name, value] of Object.entries(headersFor(limit, res))) reply.header(name, value);
}

/**
 * Consumes of one key made in the same turn of the event loop leave as one Redis command consuming
 * their number of points, so a busy client's concurrent requests cost one round trip a turn rather
 * than one each (a command through ioredis and rate-limiter-flexible was ~15% of the api's CPU on
 * `GET /sites`). The answer is what consuming one at a time, in arrival order, would have given:
 * the k-th of n sees `consumed - n + k` points used, so the earlier ones pass and only those past
 * the limit are refused, as before. A store failure fails every consume of the batch.
 */
export class TurnCoalescer {
  #pending = new Map<string, Array<{ resolve: (r: RateLimiterRes) => void; reject: (e: unknown) => void }>>();

  constructor(readonly limiter: RateLimiterAbstract) {}

  consume(key: string): Promise<RateLimiterRes> {
    return new Promise((resolve, reject) => {
      let waiters = this.#pending.get(key);
      if (!waiters) {
        // setImmediate, not a microtask: requests arriving on other sockets in this turn are
        // parsed after this one's microtasks have run, and should join the batch too.
        if (this.#pending.size === 0) setImmediate(() => this.#flush());
        waiters = [];
        this.#pending.set(key, waiters);
      }
      waiters.push({ resolve, reject });
    });
  }

  #flush() {
    const batch = this.#pending;
    this.#pending = new Map();
    for (const [key, waiters] of batch) {
      const settle = (res: RateLimiterRes) => {
        const before = res.consumedPoints - waiters.length;
        waiters.forEach((w, k) => {
          const consumed = before + k + 1;
          const mine = new RateLimiterRes(
            Math.max(0, this.limiter.points - consumed),
            res.msBeforeNext,
            consumed,
            consumed === 1,
          );
          if (consumed > this.limiter.points) w.reject(mine);
          else w.resolve(mine);
        });
      };
      this.limiter.consume(key, waiters.length).then(settle, (err: unknown) => {
        if (err instanceof RateLimiterRes) settle(err);
        else for (const w of waiters) w.reject(err);
      });
    }
  }
}
