import type { ClickHouse } from '@tidemark/clickhouse';
import { createLogger } from '@tidemark/logging';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createSiteAnalytics } from './analytics';

/** A stand-in for the ClickHouse client whose count queries wait for `answer()`, then answer or fail. */
function countingClickHouse(counts: Record<string, number>, opts: { fail?: boolean } = {}) {
  const asked: string[][] = [];
  let release!: () => void;
  let gate = new Promise<void>((resolve) => (release = resolve));
  const client = {
    async query({ query_params }: { query_params: { site_ids: string[] } }) {
      asked.push(query_params.site_ids);
      await gate;
      if (opts.fail) throw new Error('engine unavailable');
      return {
        json: async () =>
          query_params.site_ids
            .filter((id) => id in counts)
            .map((id) => ({ id, events: String(counts[id]) })),
      };
    },
  } as unknown as ClickHouse;
  return {
    client,
    asked,
    answer: () => {
      release();
      gate = new Promise<void>((resolve) => (release = resolve));
    },
  };
}

const analyticsWith = (client: ClickHouse, registry = new Registry()) =>
  createSiteAnalytics({
    clickhouse: client,
    logger: createLogger({ name: 'test', level: 'silent', format: 'json' }),
    registry,
  });

describe('eventsThisMonth', () => {
  it('sends one query for concurrent requests missing the same sites, then answers from the cache', async () => {
    const ch = countingClickHouse({ a: 5, b: 7 });
    const analytics = analyticsWith(ch.client);
    const answers = Promise.all(Array.from({ length: 10 }, () => analytics.eventsThisMonth(['a', 'b', 'c'])));
    await new Promise((resolve) => setImmediate(resolve));
    ch.answer();
    for (const counts of await answers) expect(Object.fromEntries(counts!)).toEqual({ a: 5, b: 7, c: 0 });
    expect(ch.asked).toEqual([['a', 'b', 'c']]);
    expect(Object.fromEntries((await analytics.eventsThisMonth(['b', 'a']))!)).toEqual({ b: 7, a: 5 });
    expect(ch.asked).toHaveLength(1);
  });

  it('asks only for the sites no query is already counting', async () => {
    const ch = countingClickHouse({ a: 1, b: 2 });
    const analytics = analyticsWith(ch.client);
    const first = analytics.eventsThisMonth(['a']);
    const second = analytics.eventsThisMonth(['a', 'b']);
    await new Promise((resolve) => setImmediate(resolve));
    ch.answer();
    expect(Object.fromEntries((await first)!)).toEqual({ a: 1 });
    expect(Object.fromEntries((await second)!)).toEqual({ a: 1, b: 2 });
    expect(ch.asked).toEqual([['a'], ['b']]);
  });

  it('answers null to every request sharing a failed query, counts it once, and asks again next time', async () => {
    const ch = countingClickHouse({}, { fail: true });
    const registry = new Registry();
    const analytics = analyticsWith(ch.client, registry);
    const answers = Promise.all([analytics.eventsThisMonth(['a']), analytics.eventsThisMonth(['a'])]);
    await new Promise((resolve) => setImmediate(resolve));
    ch.answer();
    expect(await answers).toEqual([null, null]);
    expect(await registry.getSingleMetricAsString('tidemark_api_clickhouse_failures_total')).toMatch(
      /operation="events_this_month"} 1$/m,
    );
    const again = analytics.eventsThisMonth(['a']);
    await new Promise((resolve) => setImmediate(resolve));
    ch.answer();
    expect(await again).toBeNull();
    expect(ch.asked).toEqual([['a'], ['a']]);
  });
});
