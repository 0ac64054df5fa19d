/**
 * `npm run soak`: the whole pipeline at a steady rate for several minutes while a fault schedule
 * kills and restarts a consumer, the Kafka broker, the ClickHouse host, Redis and a worker. Then it
 * checks what users are promised — every event answered 202 is in ClickHouse exactly once,
 * rollups equal raw, every webhook due was delivered at least once — and that each service's
 * memory stayed flat, and writes RELIABILITY.md. Loopback only; bounded in time.
 *
 * SOAK_SECONDS (default 240) and SOAK_RATE (events/s, default 300) size the run.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@clickhouse/client';
import { startClickHouseHost } from '../../infra/local/src/engines/clickhouse';
import type { RunningEngine } from '../../infra/local/src/engines/engine';
import { ensureKafkaJars, startKafka } from '../../infra/local/src/engines/kafka';
import { freePorts } from '../../infra/local/src/engines/ports';
import { createDatabase, dropDatabase } from '../../infra/local/src/engines/postgres';
import { ensureRedis } from '../../infra/local/src/engines/redis';
import { migrate, REPO_ROOT } from '../../infra/local/src/stack';
import { startServiceDetached, type RunningService, type ServiceName } from '../../infra/local/src/services';
import { listen } from '../../test/support/browser';
import { uniqueSuffix } from '../../test/support/names';
import { rssMb } from '../lib/load';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 240);
const RATE = Number(process.env.SOAK_RATE ?? 300);
const BATCH = 10;
const OUT = fileURLToPath(new URL('../../RELIABILITY.md', import.meta.url));
const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';

const log = (m: string) => console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${m}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Fault {
  at: number;
  name: string;
  run: () => Promise<void>;
}

async function main() {
  const run = uniqueSuffix();
  const dir = join(REPO_ROOT, '.tidemark', `soak-${run}`);
  mkdirSync(dir, { recursive: true });
  const [kafkaPort, controllerPort, chPort, redisPort, ...servicePorts] = await freePorts(10);
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/tidemark_soak_${run}`;
  await ensureKafkaJars({ info: log });

  const engines: Record<string, RunningEngine> = {};
  const startBroker = async () => {
    engines.kafka = await startKafka({
      dataDir: join(dir, 'kafka'),
      port: kafkaPort!,
      controllerPort: controllerPort!,
      logFile: join(dir, 'kafka', 'broker.log'),
    });
  };
  const startClickHouse = async () => {
    engines.clickhouse = await startClickHouseHost({ dataDir: join(dir, 'clickhouse'), port: chPort! });
  };
  // A Redis of our own, so the fault schedule can stop it without touching the machine's.
  const startRedis = async () => {
    engines.redis = await ensureRedis({
      url: `redis://127.0.0.1:${redisPort}`,
      dataDir: join(dir, 'redis'),
      port: redisPort!,
    });
  };
  await Promise.all([startBroker(), startClickHouse(), startRedis(), createDatabase(databaseUrl)]);

  const env: Record<string, string> = {
    KAFKA_BROKERS: engines.kafka!.url,
    KAFKA_TOPIC_EVENTS: `tidemark.events.v1.soak${run}`,
    KAFKA_TOPIC_DLQ: `tidemark.events.dlq.soak${run}`,
    CLICKHOUSE_URL: engines.clickhouse!.url,
    CLICKHOUSE_DATABASE: 'tidemark',
    DATABASE_URL: databaseUrl,
    REDIS_URL: engines.redis!.url,
    REDIS_PREFIX: `soak${run}`,
    RAW_RETENTION_DAYS: '90',
    JWT_SECRET: `soak-${run}-${'s'.repeat(32)}`,
    NODE_ENV: 'production',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'warn',
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    WEBHOOK_RETRY_SCHEDULE: '1s,2s,5s,10s,20s',
    // A killed consumer's partitions move to its replacement quickly.
    CONSUMER_SESSION_TIMEOUT_MS: '10000',
  };
  await migrate(env);

  const services: Partial<Record<ServiceName, RunningService>> = {};
  const portOf: Record<ServiceName, number> = {
    api: servicePorts[0]!,
    consumer: servicePorts[1]!,
    worker: servicePorts[2]!,
    ingest: servicePorts[3]!,
  };
  const start = async (name: ServiceName) => {
    services[name] = await startServiceDetached({ name, port: portOf[name], env }, dir);
  };
  const kill9 = async (name: ServiceName) => {
    process.kill(services[name]!.pid, 'SIGKILL');
    await sleep(500);
  };
  for (const name of ['api', 'consumer', 'worker', 'ingest'] as const) await start(name);

  // The webhook receiver: counts each delivered event once per webhook-id.
  const delivered = new Set<string>();
  let deliveries = 0;
  const receiver = await listen(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    deliveries++;
    try {
      const payload = JSON.parse(Buffer.concat(chunks).toString()) as {
        type: string;
        data: { events?: { event_id: string }[] };
      };
      for (const e of payload.data.events ?? []) delivered.add(e.event_id);
    } catch {
      // a body we cannot read is not a delivery of ours
    }
    res.writeHead(200).end();
  });

  const api = async (path: string, body?: unknown, token?: string) => {
    const res = await fetch(`${services.api!.url}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.json()) as { data: Record<string, string> };
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    return json.data;
  };
  const signup = await api('/api/v1/auth/signup', {
    email: `soak-${run}@example.com`,
    password: 'soak soak soak soak',
  });
  const token = signup.token!;
  const site = await api('/api/v1/sites', { domain: 'soak.example.com', name: 'Soak' }, token);
  await api(
    `/api/v1/sites/${site.id}/webhooks`,
    { url: `${receiver.origin}/hook`, events: ['pageview'], is_enabled: true },
    token,
  );

  const accepted = new Set<string>();
  let refused = 0;
  let sendErrors = 0;
  const rss: { t: number; service: string; mb: number }[] = [];
  const t0 = Date.now();
  const elapsed = () => (Date.now() - t0) / 1000;

  const faults: Fault[] = [
    {
      at: 0.15,
      name: 'kill -9 consumer, restart',
      run: async () => {
        await kill9('consumer');
        await start('consumer');
      },
    },
    {
      at: 0.3,
      name: 'stop Kafka broker 10 s, restart',
      run: async () => {
        await engines.kafka!.stop();
        await sleep(10_000);
        await startBroker();
      },
    },
    {
      at: 0.45,
      name: 'stop ClickHouse host 10 s, restart',
      run: async () => {
        await engines.clickhouse!.stop();
        await sleep(10_000);
        await startClickHouse();
      },
    },
    {
      at: 0.6,
      name: 'stop Redis 10 s, restart',
      run: async () => {
        await engines.redis!.stop();
        await sleep(10_000);
        await startRedis();
      },
    },
    {
      at: 0.75,
      name: 'kill -9 worker, restart',
      run: async () => {
        await kill9('worker');
        await start('worker');
      },
    },
  ];
  const survived: { name: string; at: number; ok: boolean; error?: string }[] = [];
  const faultRunner = (async () => {
    for (const fault of faults) {
      const wait = fault.at * SECONDS * 1000 - (Date.now() - t0);
      if (wait > 0) await sleep(wait);
      log(`fault: ${fault.name}`);
      try {
        await fault.run();
        survived.push({ name: fault.name, at: Math.round(elapsed()), ok: true });
      } catch (err) {
        survived.push({
          name: fault.name,
          at: Math.round(elapsed()),
          ok: false,
          error: (err as Error).message,
        });
      }
    }
  })();

  const sampler = setInterval(() => {
    for (const [name, s] of Object.entries(services)) {
      void rssMb(s!.pid)
        .then((mb) => rss.push({ t: Math.round(elapsed()), service: name, mb }))
        .catch(() => {});
    }
  }, 5_000);

  log(`driving ${RATE} events/s for ${SECONDS} s`);
  const tickMs = (1000 * BATCH) / RATE;
  const inflight = new Set<Promise<void>>();
  let next = Date.now();
  while (elapsed() < SECONDS) {
    const ids = Array.from({ length: BATCH }, () => randomUUID());
    const p = fetch(`${services.ingest!.url}/api/v1/track/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': UA, 'x-forwarded-for': '81.2.69.160' },
      body: JSON.stringify({
        events: ids.map((event_id, i) => ({
          site_key: site.site_key,
          name: 'pageview',
          url: `https://soak.example.com/p/${i}`,
          event_id,
        })),
      }),
      signal: AbortSignal.timeout(15_000),
    })
      .then(async (res) => {
        if (res.status === 202) ids.forEach((id) => accepted.add(id));
        else refused += BATCH;
        await res.body?.cancel();
      })
      .catch(() => {
        sendErrors += BATCH;
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
    next += tickMs;
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
  }
  await Promise.all(inflight);
  await faultRunner;
  const achievedRate = Math.round((accepted.size + refused + sendErrors) / SECONDS);
  log(`sent; ${accepted.size} accepted, ${refused} refused (503), ${sendErrors} not answered`);

  const ch = createClient({ url: engines.clickhouse!.url, database: 'tidemark' });
  const query = async <T>(sql: string, params: Record<string, unknown> = {}) =>
    (await ch.query({ query: sql, query_params: params, format: 'JSONEachRow' })).json<T>();
  // Drain: wait until what ClickHouse holds stops changing.
  let last = -1;
  for (let i = 0; i < 120; i++) {
    const [row] = await query<{ n: string }>('SELECT count() AS n FROM events WHERE site_id = {s:UUID}', {
      s: site.id,
    });
    const n = Number(row!.n);
    if (n === last && n >= accepted.size) break;
    last = n;
    await sleep(2_000);
  }
  const ids = await query<{ id: string; c: string }>(
    'SELECT toString(event_id) AS id, count() AS c FROM events WHERE site_id = {s:UUID} GROUP BY event_id',
    { s: site.id },
  );
  const stored = new Map(ids.map((r) => [r.id, Number(r.c)]));
  const lost = [...accepted].filter((id) => !stored.has(id)).length;
  const duplicated = [...stored.values()].filter((c) => c > 1).length;
  const extra = [...stored.keys()].filter((id) => !accepted.has(id)).length;
  const [rollup] = await query<{ raw: string; rolled: string }>(
    `SELECT (SELECT countIf(name = 'pageview') FROM events WHERE site_id = {s:UUID}) AS raw,
            (SELECT sum(pageviews) FROM rollup_site_per_15m WHERE site_id = {s:UUID}) AS rolled`,
    { s: site.id },
  );
  await ch.close();

  // Webhooks: every stored pageview was due to the subscriber; give retries time to finish.
  for (let i = 0; i < 60 && [...stored.keys()].some((id) => !delivered.has(id)); i++) await sleep(2_000);
  const undelivered = [...stored.keys()].filter((id) => !delivered.has(id)).length;

  clearInterval(sampler);
  for (const name of ['ingest', 'worker', 'consumer', 'api'] as const)
    await services[name]?.stop().catch(() => {});
  receiver.server.close();
  for (const engine of Object.values(engines)) await engine.stop().catch(() => {});
  await dropDatabase(databaseUrl).catch(() => {});
  rmSync(dir, { recursive: true, force: true });

  const flat = Object.fromEntries(
    Object.keys(services).map((name) => {
      const points = rss.filter((p) => p.service === name);
      const half = Math.floor(points.length / 2);
      const avg = (ps: typeof points) => ps.reduce((a, p) => a + p.mb, 0) / Math.max(1, ps.length);
      return [
        name,
        {
          first_half_mb: Math.round(avg(points.slice(0, half))),
          second_half_mb: Math.round(avg(points.slice(half))),
          max_mb: Math.max(0, ...points.map((p) => p.mb)),
        },
      ];
    }),
  );
  const memoryFlat = Object.values(flat).every((f) => f.second_half_mb <= f.first_half_mb * 1.25 + 20);
  const result = {
    seconds: SECONDS,
    target_rate: RATE,
    achieved_rate: achievedRate,
    accepted: accepted.size,
    refused_503: refused,
    not_answered: sendErrors,
    lost,
    duplicated,
    stored_beyond_accepted: extra,
    rollup_pageviews: Number(rollup!.rolled),
    raw_pageviews: Number(rollup!.raw),
    webhook_deliveries: deliveries,
    webhook_events_undelivered: undelivered,
    faults: survived,
    memory: flat,
    memory_flat: memoryFlat,
  };
  const ok =
    lost === 0 &&
    duplicated === 0 &&
    result.rollup_pageviews === result.raw_pageviews &&
    undelivered === 0 &&
    survived.every((f) => f.ok);
  writeFileSync(OUT, render(result, rss, ok));
  console.log(JSON.stringify({ ...result, ok }));
  process.exitCode = ok ? 0 : 1;
}

function render(
  r: Record<string, unknown> & { memory: Record<string, unknown>; faults: unknown[] },
  rss: { t: number; service: string; mb: number }[],
  ok: boolean,
) {
  const services = [...new Set(rss.map((p) => p.service))];
  const times = [...new Set(rss.map((p) => p.t))].sort((a, b) => a - b);
  const lines = [
    '# Reliability',
    '',
    'Written by `npm run soak` (bench/soak/run.ts): the whole pipeline driven at a steady rate on loopback',
    'while a fault schedule kills and restarts a consumer, the Kafka broker, the ClickHouse host, Redis and',
    'a worker. Events answered 503 while Kafka was down were refused, not accepted: clients retry those.',
    '',
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpus().length} × ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    `- verdict: **${ok ? 'no event lost, none duplicated, rollups equal raw, every webhook delivered' : 'FAILED — see the figures'}**`,
    '',
    '| figure | value |',
    '|---|---|',
    ...Object.entries(r)
      .filter(([k]) => k !== 'faults' && k !== 'memory')
      .map(([k, v]) => `| ${k} | ${String(v)} |`),
    '',
    '## Faults',
    '',
    '| at (s) | fault | survived |',
    '|---|---|---|',
    ...(r.faults as { at: number; name: string; ok: boolean; error?: string }[]).map(
      (f) => `| ${f.at} | ${f.name} | ${f.ok ? 'yes' : `no: ${f.error}`} |`,
    ),
    '',
    '## Memory (RSS, MB, sampled every 5 s)',
    '',
    `| t (s) | ${services.join(' | ')} |`,
    `|---|${services.map(() => '---').join('|')}|`,
    ...times.map(
      (t) =>
        `| ${t} | ${services.map((s) => rss.find((p) => p.t === t && p.service === s)?.mb ?? '').join(' | ')} |`,
    ),
    '',
    `Per service, first half vs second half average: ${JSON.stringify(r.memory)}`,
    '',
  ];
  return lines.join('\n');
}

await main();
