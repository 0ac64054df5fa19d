import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClickHouse, insertEvents, type ClickHouse } from '@tidemark/clickhouse';
import { uniqueSuffix } from '../../test/support/names';
import { cpuMicrosPer, CpuSampler, describeCpu } from '../lib/cpu';
import { enrichedEvents } from '../lib/events';
import { runLoad, startProcess } from '../lib/load';
import { scrapeMetric, startApi, stopAll, type ServiceProcess } from '../lib/services';
import { startBenchStack } from '../lib/stack';
import { percentile, round } from '../lib/stats';
import type { Scenario } from '../run';

const SITES = 10;
/** Events of this month in ClickHouse across the sites, so the list's per-site counts read real rows. */
const EVENTS = 100_000;
/** The baseline scenario's load: 50 connections for 10 s, after a 3 s warm-up. */
const CONNECTIONS = 50;
const SECONDS = 10;
/** Rate limits this high still run the Redis limiter on every request but never reject one. */
const UNREACHABLE_LIMIT = '1000000000';

async function call<T>(origin: string, method: 'GET' | 'POST', path: string, token?: string, body?: unknown) {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return (JSON.parse(text) as { data: T }).data;
}

/**
 * `GET /api/v1/sites` with an account token (`tma_`, `sites:read`) against one real api process:
 * the Redis rate limiters, the token and site-list caches (and PostgreSQL behind them) and the
 * ClickHouse count of this month's events per site. Target from issue 5: ≥ 40% of the bare fastify baseline's requests/s.
 */
export const api: Scenario = {
  name: 'api',
  description:
    'api service: authenticated GET /api/v1/sites (account token, 10 sites with events) vs the bare fastify baseline',
  async run(ctx) {
    const base = await ctx.baseline();
    const stack = await startBenchStack();
    const running: Array<ServiceProcess | undefined> = [];
    const clickhouse = createClickHouse({
      url: stack.env.CLICKHOUSE_URL!,
      database: stack.env.CLICKHOUSE_DATABASE!,
    });
    try {
      // The same route, shape and load against the bare server: how much the route's work costs.
      const bare = await startProcess('bench/lib/bare-server.ts', { PORT: '0' }, /listening (http:\/\/\S+)/);
      running.push(bare);
      const bareLoad = { url: `${bare.match[1]}/api/v1/sites`, connections: CONNECTIONS };
      await runLoad({ ...bareLoad, durationSeconds: 3 });
      const bareCpu = new CpuSampler([{ name: 'bare', pid: bare.child.pid! }]);
      const bareGet = await runLoad({ ...bareLoad, durationSeconds: SECONDS });
      const bareCpuUse = bareCpu.stop();
      await bare.stop();
      running.pop();

      const service = await startApi(stack.env, {
        JWT_SECRET: randomBytes(32).toString('base64url'),
        RATE_LIMIT_PER_IP_PER_MINUTE: UNREACHABLE_LIMIT,
        RATE_LIMIT_PER_TOKEN_PER_HOUR: UNREACHABLE_LIMIT,
      });
      running.push(service);
      const origin = service.match[1]!;

      // Everything through the api, as a user would: sign up, add the sites, make a read token.
      const user = await call<{ token: string }>(origin, 'POST', '/api/v1/auth/signup', undefined, {
        email: `bench-${uniqueSuffix()}@example.com`,
        password: 'a long enough benchmark password',
        name: 'Bench',
      });
      const sites: string[] = [];
      for (let i = 0; i < SITES; i++) {
        const site = await call<{ id: string }>(origin, 'POST', '/api/v1/sites', user.token, {
          domain: `site-${i}-${uniqueSuffix()}.example.com`,
          name: `Site ${i}`,
        });
        sites.push(site.id);
      }
      const accountToken = await call<{ token: string }>(
        origin,
        'POST',
        '/api/v1/access-tokens',
        user.token,
        {
          name: 'bench',
          permissions: ['sites:read'],
        },
      );
      if (!accountToken.token.startsWith('tma_')) throw new Error('expected an account token (tma_...)');
      const events = enrichedEvents({ sites, spreadMs: 3600_000 });
      const rows = Array.from({ length: EVENTS }, () => events.next().value!);
      await insertEvents(clickhouse, rows, { dedupToken: `bench-api-${uniqueSuffix()}` });
      // The insert leaves background merges running for seconds; on 2 cores they would take CPU
      // from the api while it is measured, so the figure would move with their timing.
      const settled = await mergesSettled(clickhouse);

      const listed = await call<Array<{ events_this_month: number | null }>>(
        origin,
        'GET',
        '/api/v1/sites',
        accountToken.token,
      );
      const counted = listed.reduce((sum, s) => sum + (s.events_this_month ?? 0), 0);
      if (listed.length !== SITES || counted === 0) {
        throw new Error(
          `GET /api/v1/sites listed ${listed.length} sites with ${counted} events: setup is wrong`,
        );
      }

      const load = {
        url: `${origin}/api/v1/sites`,
        headers: { authorization: `Bearer ${accountToken.token}` },
        connections: CONNECTIONS,
      };
      // The api's own events_this_month query, timed from here: idle, then while the load runs, to
      // show how long a request waits for ClickHouse (the engine host runs one query at a time).
      const monthStart = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1));
      const timeCountQuery = async () => {
        const started = performance.now();
        const rs = await clickhouse.query({
          query: `SELECT toString(site_id) AS id, count() AS events FROM events
                   WHERE site_id IN {site_ids:Array(UUID)} AND timestamp >= {from:DateTime64(3, 'UTC')}
                   GROUP BY site_id`,
          query_params: {
            site_ids: sites,
            from: monthStart.toISOString().replace('T', ' ').replace('Z', ''),
          },
          format: 'JSONEachRow',
        });
        await rs.json();
        return performance.now() - started;
      };
      const idleQueryMs: number[] = [];
      for (let i = 0; i < 20; i++) idleQueryMs.push(await timeCountQuery());
      await runLoad({ ...load, durationSeconds: 3 });
      const metric = (name: string) => scrapeMetric(origin, name);
      const degradedBefore = await metric('tidemark_api_clickhouse_failures_total');
      const limiterErrorsBefore = await metric('tidemark_api_rate_limit_store_errors_total');
      const cpu = new CpuSampler([
        ...stack.processes,
        { name: 'api', pid: service.child.pid! },
        { name: 'bench', pid: process.pid, tree: false },
      ]);
      const loadedQueryMs: number[] = [];
      let loading = true;
      const probing = (async () => {
        while (loading) {
          loadedQueryMs.push(await timeCountQuery());
          await sleep(250);
        }
      })();
      const r = await runLoad({
        ...load,
        durationSeconds: SECONDS,
        onStart: (pid) => cpu.watch({ name: 'autocannon', pid }),
      }).finally(() => (loading = false));
      await probing;
      const cpuUse = cpu.stop();
      const degraded = (await metric('tidemark_api_clickhouse_failures_total')) - degradedBefore;
      const limiterErrors =
        (await metric('tidemark_api_rate_limit_store_errors_total')) - limiterErrorsBefore;
      const limited = await metric('tidemark_api_rate_limited_total');

      const figures = {
        baseline_requests_per_second: base.figures.requests_per_second!,
        bare_get_sites_requests_per_second: Math.round(bareGet.requestsPerSecond),
        api_requests_per_second: Math.round(r.requestsPerSecond),
        latency_p50_ms: r.latencyP50Ms,
        latency_p99_ms: r.latencyP99Ms,
        non_2xx: r.non2xx,
        errors: r.errors,
        // Answers whose per-site count came back null because ClickHouse did not answer in 2 s.
        degraded_answers: degraded,
        rate_limit_store_errors: limiterErrors,
        rate_limited: limited,
        clickhouse_count_query_idle_p50_ms: round(percentile(idleQueryMs, 50), 1),
        clickhouse_count_query_under_load_p50_ms: round(percentile(loadedQueryMs, 50), 1),
        api_cpu_us_per_request: cpuMicrosPer(cpuUse, 'api', r.requestsPerSecond),
        bare_get_cpu_us_per_request: cpuMicrosPer(bareCpuUse, 'bare', bareGet.requestsPerSecond),
      };
      const ratio = figures.api_requests_per_second / figures.baseline_requests_per_second;
      const targets = { vs_baseline_min: 0.4, non_2xx: 0, degraded_answers: 0 };
      const notes = [
        `${CONNECTIONS} connections for ${SECONDS} s after a 3 s warm-up, as the baseline; ${SITES} sites made through the api, ${EVENTS} events of this month in ClickHouse across them (measured once the engine's merges after that insert ${settled ? 'had finished' : 'had still not finished after 60 s'}); rate limits at ${UNREACHABLE_LIMIT} so the per-token Redis limiter runs on every request without rejecting (the per-IP one counts a token's first request on the process only, as for every known token). The api ran with LOG_LEVEL=info (its shipped default), so it logs every request to a pipe the bench process reads.`,
        `\`events_this_month\` comes from the 15-minute site rollup and is reused per site for 5 s, so the engine host sees at most one count per site every 5 s, not one per request. The same count query sent from the bench process took ${figures.clickhouse_count_query_idle_p50_ms} ms (p50) with the api idle and ${figures.clickhouse_count_query_under_load_p50_ms} ms (p50, ${loadedQueryMs.length} samples) during the measured load. Each request consults the per-token Redis rate limiter, resolves its token from the api's auth cache (AUTH_CACHE_TTL_MS) and the user's site list from the site-list cache (SITE_ACCESS_CACHE_TTL_MS; both read PostgreSQL once per 10 s here, as no site changed during the run, and after any change), writes the answer with the serializer compiled from the route's schema, and writes one access log line; the busiest process below is what bounds the figure.`,
        `\`bare_get_sites_requests_per_second\` is the bare server answering the same GET route under the same load in this run; \`vs_bare_get\` divides by it. CPU per request answered (the process's CPU time over the load): api ~${figures.api_cpu_us_per_request} µs, bare GET route ~${figures.bare_get_cpu_us_per_request} µs.`,
        describeCpu(cpuUse),
      ];
      return {
        figures,
        ratios: {
          vs_baseline: round(ratio, 3),
          vs_bare_get: round(
            figures.api_requests_per_second / Math.max(1, figures.bare_get_sites_requests_per_second),
            3,
          ),
        },
        targets,
        targets_met: ratio >= targets.vs_baseline_min && r.non2xx === 0 && r.errors === 0 && degraded === 0,
        notes: notes.join('\n\n'),
      };
    } finally {
      await stopAll(running);
      await clickhouse.close();
      await stack.stop();
    }
  },
};

/** Waits until two polls a second apart find no ClickHouse merge running (up to 60 s); whether they did. */
async function mergesSettled(clickhouse: ClickHouse): Promise<boolean> {
  const deadline = Date.now() + 60_000;
  let quiet = 0;
  while (Date.now() < deadline) {
    const rs = await clickhouse.query({
      query: 'SELECT count() AS merges FROM system.merges WHERE database = currentDatabase()',
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ merges: string | number }>();
    quiet = Number(row?.merges ?? 0) === 0 ? quiet + 1 : 0;
    if (quiet >= 2) return true;
    await sleep(1000);
  }
  return false;
}
