import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { reusedEngine, type RunningEngine } from './engine';
import { findExecutable, launch, waitFor } from './process';

/** Rejects unless a Redis server answers PING at `url`; one quick attempt, no reconnect loop. */
async function ping(url: string): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    commandTimeout: 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // Failures reach the caller through connect()/ping(); without a listener ioredis prints them.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } finally {
    client.disconnect();
  }
}

/** A server that answered with an error (e.g. NOAUTH) is reachable but misconfigured. */
function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

export interface RedisOptions {
  /** Reused when a server answers here (REDIS_URL). */
  url: string;
  /** Working directory and log of a server we start. */
  dataDir: string;
  /** Port for a server we start. */
  port: number;
}

/** Reuses the Redis at `url` when it answers, else starts `redis-server` on `port`. */
export async function ensureRedis({ url, dataDir, port }: RedisOptions): Promise<RunningEngine> {
  try {
    await ping(url);
    return reusedEngine('redis', url);
  } catch (error) {
    if (isReplyError(error)) {
      throw new Error(`Redis at ${url} answered with an error: ${(error as Error).message}`);
    }
  }

  const redisServer = findExecutable('redis-server');
  if (!redisServer) {
    throw new Error(
      `Redis is not reachable at ${url} and redis-server is not installed. ` +
        'Install it (apt-get install redis-server) or set REDIS_URL to a reachable Redis.',
    );
  }

  const ownUrl = new URL(url);
  ownUrl.hostname = '127.0.0.1';
  ownUrl.port = String(port);
  ownUrl.username = '';
  ownUrl.password = '';
  const localUrl = ownUrl.toString();

  await mkdir(dataDir, { recursive: true });
  const server = await launch({
    command: redisServer,
    args: [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      // BullMQ refuses to run on a Redis that may evict its keys.
      '--maxmemory-policy',
      'noeviction',
      '--dir',
      dataDir,
    ],
    logFile: join(dataDir, 'redis.log'),
    pidFile: join(dataDir, 'redis.pid'),
    what: `redis-server on 127.0.0.1:${port}`,
    ready: (abortIf) =>
      waitFor(() => ping(localUrl), { timeoutMs: 10_000, what: localUrl, abortIf, intervalMs: 100 }),
  });
  return { name: 'redis', url: localUrl, ...server };
}
