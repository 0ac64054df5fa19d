import { randomUUID } from 'node:crypto';
import { createClickHouse, type ClickHouse } from '@tidemark/clickhouse';
import { sessionIdAt } from '@tidemark/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshClickHouse, freshPostgres, waitFor } from '../../../test/support/stack';
import { counterValue, spawnWorker, workerEnv, type WorkerProcess } from './int-support';

const SITE = '7c3e9a40-5d2b-4e77-9f20-8d4b2c1e3f33';

let clickhouse: ClickHouse;
let worker: WorkerProcess | undefined;

/** The 10th of last month (UTC), noon: a closed month, within raw retention. */
const lastMonth = () => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 10, 12));
};

async function visit(at: Date, low: number) {
  await clickhouse.insert({
    table: 'events',
    format: 'JSONEachRow',
    values: [
      {
        event_id: randomUUID(),
        site_id: SITE,
        timestamp: at.toISOString().slice(0, 23).replace('T', ' '),
        name: 'pageview',
        visitor_id: String(low),
        session_id: sessionIdAt(at, low),
      },
    ],
  });
}

/** The month builds recorded for last month, oldest first (its January-to-month prefix aside). */
async function builds(): Promise<string[]> {
  const month = lastMonth().toISOString().slice(0, 7).replace('-', '');
  const rs = await clickhouse.query({
    query: `SELECT kind, toString(build_id) AS id FROM summary_builds
             WHERE month = {month:String} AND kind IN ('sessions_month', 'site_month') ORDER BY built_at`,
    query_params: { month },
    format: 'JSONEachRow',
  });
  return (await rs.json<{ kind: string; id: string }>()).map((r) => `${r.kind} ${r.id}`);
}

beforeAll(async () => {
  const [url, ch] = await Promise.all([freshPostgres(), freshClickHouse()]);
  clickhouse = createClickHouse(ch);
  await visit(lastMonth(), 1);
  worker = await spawnWorker(
    workerEnv(url, { CLICKHOUSE_DATABASE: ch.database, SUMMARY_REFRESH_INTERVAL: '1s' }),
  );
});

afterAll(async () => {
  await worker?.kill();
  await clickhouse?.close();
});

/** Last month's day totals of its page: visitors and pageviews of the visits' day. */
async function pageDay(): Promise<string | undefined> {
  const rs = await clickhouse.query({
    query: `SELECT visitors, pageviews FROM rollup_dimensions_per_day
             WHERE site_id = {site:UUID} AND dimension = 'page' AND day = {day:Date}`,
    query_params: { site: SITE, day: lastMonth().toISOString().slice(0, 10) },
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ visitors: string; pageviews: string }>();
  return row && `${row.visitors} visitors, ${row.pageviews} pageviews`;
}

describe('the worker summarizes closed months', () => {
  it('builds last month once, and again after a late event changes it', async () => {
    const first = await waitFor(
      async () => {
        const found = await builds();
        return found.length >= 2 ? found : undefined;
      },
      { timeout: 30_000, message: 'last month summarized' },
    );
    expect(first.map((b) => b.split(' ')[0]).sort()).toEqual(['sessions_month', 'site_month']);
    await waitFor(async () => ((await pageDay()) === '1 visitors, 1 pageviews' ? true : undefined), {
      timeout: 30_000,
      message: "last month's day totals built",
    });

    await visit(new Date(lastMonth().getTime() + 3_600_000), 2);
    const second = await waitFor(
      async () => {
        const found = await builds();
        return found.length >= 4 ? found : undefined;
      },
      { timeout: 30_000, message: 'last month summarized again' },
    );
    expect(second.slice(0, 2)).toEqual(first);
    expect(
      // A background merge of the new parts may rebuild it once more later: the first rebuild counts.
      second
        .slice(2, 4)
        .map((b) => b.split(' ')[0])
        .sort(),
    ).toEqual(['sessions_month', 'site_month']);
    await waitFor(async () => ((await pageDay()) === '2 visitors, 2 pageviews' ? true : undefined), {
      timeout: 30_000,
      message: "last month's day totals rebuilt",
    });
    // Counted once the job's run is over, which is after its last builds row.
    for (const kind of ['sessions_month', 'site_month', 'dimension_days']) {
      await waitFor(
        async () =>
          counterValue(await worker!.metrics(), 'tidemark_summary_builds_total', { kind }) >= 2
            ? true
            : undefined,
        { timeout: 10_000, message: `tidemark_summary_builds_total{kind="${kind}"} at 2 or more` },
      );
    }
  });
});
