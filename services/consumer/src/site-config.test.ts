import { randomUUID } from 'node:crypto';
import { createLogger } from '@tidemark/logging';
import { describe, expect, it } from 'vitest';
import { SiteConfigCache } from './site-config';

const logger = createLogger({ name: 'test', level: 'silent' });

/** A pool whose answers the test controls: each site has the goals given, until `down` is set. */
function fakePool(goals: Record<string, string[]>) {
  const state = { down: false, queries: [] as string[][] };
  const pool = {
    query: async (_sql: string, [refs]: [string[]]) => {
      if (state.down) throw new Error('connect ECONNREFUSED');
      state.queries.push(refs);
      return {
        rows: refs.map((ref) => ({
          ref,
          goals: (goals[ref] ?? []).map((name) => ({ name, event_name: name, page_path: null })),
          fanout: [],
        })),
      };
    },
  };
  return { pool: pool as never, state };
}

describe('site config cache', () => {
  const [a, b] = [randomUUID(), randomUUID()];

  it('loads every missing site in one query and answers from the cache until the TTL', async () => {
    const { pool, state } = fakePool({ [a]: ['signup'] });
    const cache = new SiteConfigCache({ pool, ttlMs: 60_000, logger, onStale: () => {} });
    const first = await cache.get([a, b, a]);
    expect(first.get(a)!.goals).toEqual([{ name: 'signup', eventName: 'signup', pagePath: null }]);
    expect(first.get(b)!.goals).toEqual([]);
    await cache.get([a, b]);
    expect(state.queries).toEqual([[a, b]]);
  });

  it('reloads a site once the api invalidates it', async () => {
    const { pool, state } = fakePool({});
    const cache = new SiteConfigCache({ pool, ttlMs: 60_000, logger, onStale: () => {} });
    await cache.get([a, b]);
    cache.invalidate(a);
    await cache.get([a, b]);
    cache.invalidate();
    await cache.get([b]);
    expect(state.queries).toEqual([[a, b], [a], [b]]);
  });

  it('answers known sites from their last state while PostgreSQL is down, and refuses unknown ones', async () => {
    const { pool, state } = fakePool({ [a]: ['signup'] });
    const stale: number[] = [];
    const cache = new SiteConfigCache({ pool, ttlMs: 1, logger, onStale: (n) => stale.push(n) });
    await cache.get([a]);
    await new Promise((r) => setTimeout(r, 5));
    state.down = true;
    expect((await cache.get([a])).get(a)!.goals).toHaveLength(1);
    expect(stale).toEqual([1]);
    await expect(cache.get([a, b])).rejects.toThrow(/ECONNREFUSED/);
    state.down = false;
    expect((await cache.get([a, b])).size).toBe(2);
  });
});
