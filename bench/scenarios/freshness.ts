import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { createClickHouse } from '@tidemark/clickhouse';
import { uniqueSuffix } from '../../test/support/names';
import { CpuSampler, describeCpu, type CpuSummary } from '../lib/cpu';
import { trackerEvent, userAgent, visitorIp } from '../lib/events';
import { scrapeMetric, startConsumer, startIngest, stopAll, type ServiceProcess } from '../lib/services';
import { seedSite, startBenchStack } from '../lib/stack';
import { percentile, round, slope } from '../lib/stats';
import { VisibilityPoller } from '../lib/visibility';
import type { Scenario } from '../run';

const TARGET_RATE = 5_000;
const BATCH = 50;
/** One probe every PROBE_EVERY events: the first event of every other batch. */
const PROBE_EVERY = 100;
const PHASE_SECONDS = 20;
/** Probes of the first seconds of a phase are not counted: processes warm up, the rate settles. */
const WARMUP_SECONDS = 3;
/** How long after a phase its probes may still become visible before they count as lost. */
const DRAIN_MS = 12_000;
const MAX_PHASES = 3;
const POLL_INTERVAL_MS = 100;
/** A phase whose freshness grows faster than this (a backlog of > 3% of the rate) did not hold. */
const MAX_SLOPE_MS_PER_SECOND = 30;
/** Requests in flight past which the sender stops offering load (ingest is not keeping up). */
const MAX_INFLIGHT_REQUESTS = 64;

interface Probe {
  id: string;
  phase: number;
  /** Epoch ms the 202 arrived. */
  ackAt: number;
  /** Seconds into the phase the batch was sent. */
  offset: number;
  visibleAt?: number;
}

interface PhaseResult {
  rate: number;
  ackedPerSecond: number;
  refused: number;
  skipped: number;
  ackMs: number[];
  latencies: number[];
  lost: number;
  /**
   * Least-squares slope of freshness over the phase, in ms per second: about 0 when the pipeline
   * keeps up, about 1000 × (1 − capacity / rate) when a backlog builds behind it.
   */
  slopeMsPerSecond: number;
  sustained: boolean;
  cpu: CpuSummary;
  /** The consumer's inserts during the phase and its drain: count, events, seconds. */
  inserts: { count: number; events: number; seconds: number };
}

/**
 * Time from ingest's 202 to the event being readable in ClickHouse, with real ingest and consumer
 * processes under a steady load. Target from issue 4: p99 < 2 s at 5,000 events/s; where the
 * machine cannot hold that rate, the highest rate it held is measured and reported as such.
 */
export const freshness: Scenario = {
  name: 'freshness',
  description:
    'ingest 202 → visible in ClickHouse (stats query path), p50/p99 of 1-in-100 probe events at a steady rate (target 5,000 events/s), real ingest + consumer',
  async run() {
    const stack = await startBenchStack();
    const running: ServiceProcess[] = [];
    const clickhouse = createClickHouse({
      url: stack.env.CLICKHOUSE_URL!,
      database: stack.env.CLICKHOUSE_DATABASE!,
    });
    let http: Pool | undefined;
    let poller: VisibilityPoller<Probe> | undefined;
    try {
      const site = await seedSite(stack.env.DATABASE_URL!);
      running.push(
        await startConsumer(stack.env, { CONSUMER_GROUP_ID: `bench-freshness-${uniqueSuffix()}` }),
      );
      // The sender plays many visitors through X-Forwarded-For, so sessions and GeoIP do real work.
      running.push(await startIngest(stack.env, { TRUST_PROXY: '127.0.0.1' }));
      const [consumerProcess, ingestProcess] = running as [ServiceProcess, ServiceProcess];
      http = new Pool(ingestProcess.match[1]!, { connections: MAX_INFLIGHT_REQUESTS });
      poller = new VisibilityPoller<Probe>(
        clickhouse,
        site.siteId,
        new Date(Date.now() - 60_000),
        POLL_INTERVAL_MS,
      );
      const probes: Probe[] = [];
      let batchNo = 0;

      const runPhase = async (phase: number, rate: number): Promise<PhaseResult> => {
        const cpu = new CpuSampler([
          ...stack.processes,
          { name: 'ingest', pid: ingestProcess.child.pid! },
          { name: 'consumer', pid: consumerProcess.child.pid! },
          { name: 'bench', pid: process.pid, tree: false },
        ]);
        const insertMetrics = async () => {
          const [count, events, seconds] = await Promise.all(
            [
              'tidemark_consumer_insert_seconds_count',
              'tidemark_consumer_events_inserted_total',
              'tidemark_consumer_insert_seconds_sum',
            ].map((name) => scrapeMetric(consumerProcess.opsUrl!, name)),
          );
          return { count: count!, events: events!, seconds: seconds! };
        };
        const insertsBefore = await insertMetrics();
        const intervalMs = (1000 * BATCH) / rate;
        const total = Math.round((PHASE_SECONDS * rate) / BATCH);
        const started = Date.now();
        const sends = new Set<Promise<void>>();
        const ackMs: number[] = [];
        let acked = 0;
        let refused = 0;
        let skipped = 0;
        for (let k = 0; k < total; k++) {
          // Open loop: batch k leaves at its slot whatever happened to the ones before it.
          const due = started + k * intervalMs;
          if (due > Date.now()) await sleep(due - Date.now());
          if (sends.size >= MAX_INFLIGHT_REQUESTS) {
            skipped++;
            continue;
          }
          const n = batchNo++;
          const ids = Array.from({ length: BATCH }, () => randomUUID());
          const body = JSON.stringify({
            events: ids.map((id, i) => trackerEvent(site.siteKey, n * BATCH + i, id)),
          });
          const sentAt = Date.now();
          const offset = (sentAt - started) / 1000;
          const send = http!
            .request({
              path: '/api/v1/track/batch',
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'user-agent': userAgent(n),
                'x-forwarded-for': visitorIp(n),
              },
              body,
            })
            .then(async (res) => {
              await res.body.dump();
              const at = Date.now();
              if (res.statusCode !== 202) {
                refused++;
                return;
              }
              acked += BATCH;
              ackMs.push(at - sentAt);
              if ((n * BATCH) % PROBE_EVERY === 0) {
                const probe: Probe = { id: ids[0]!, phase, ackAt: at, offset };
                probes.push(probe);
                poller!.add(probe);
              }
            })
            .catch(() => {
              refused++;
            })
            .finally(() => sends.delete(send));
          sends.add(send);
        }
        await Promise.all(sends);
        const seconds = (Date.now() - started) / 1000;
        const drainUntil = Date.now() + DRAIN_MS;
        while (poller!.pendingCount((p) => p.phase === phase) > 0 && Date.now() < drainUntil)
          await sleep(POLL_INTERVAL_MS);
        const cpuUse = cpu.stop();
        const insertsAfter = await insertMetrics();

        const counted = probes.filter((p) => p.phase === phase && p.offset >= WARMUP_SECONDS);
        const seen = counted.filter((p) => p.visibleAt !== undefined);
        const latencies = seen.map((p) => p.visibleAt! - p.ackAt);
        const slopeMsPerSecond = slope(
          seen.map((p) => p.offset),
          latencies,
        );
        const ackedPerSecond = acked / seconds;
        const lost = counted.length - seen.length;
        return {
          rate,
          ackedPerSecond,
          refused,
          skipped,
          ackMs,
          latencies,
          lost,
          slopeMsPerSecond,
          // Held: ingest took every batch on time, and no backlog built up behind it.
          sustained:
            refused === 0 &&
            skipped <= total / 100 &&
            ackedPerSecond >= 0.95 * rate &&
            lost === 0 &&
            counted.length > 0 &&
            slopeMsPerSecond < MAX_SLOPE_MS_PER_SECOND,
          cpu: cpuUse,
          inserts: {
            count: insertsAfter.count - insertsBefore.count,
            events: insertsAfter.events - insertsBefore.events,
            seconds: insertsAfter.seconds - insertsBefore.seconds,
          },
        };
      };

      const phases: PhaseResult[] = [];
      let rate = TARGET_RATE;
      for (let phase = 0; phase < MAX_PHASES; phase++) {
        const result = await runPhase(phase, rate);
        phases.push(result);
        console.error(
          `[bench] freshness: ${rate}/s → acked ${Math.round(result.ackedPerSecond)}/s, p99 ${percentile(result.latencies, 99)} ms, slope ${round(result.slopeMsPerSecond)} ms/s, lost ${result.lost}, sustained ${result.sustained}`,
        );
        if (result.sustained) break;
        // Step down below what the slower side managed, with room for the backlog to stay empty.
        rate = Math.max(BATCH * 5, Math.floor(Math.min(result.ackedPerSecond, rate * 0.7) / 100) * 100);
        // Let the consumer work off what the failed phase left behind before measuring again.
        await sleep(2_000);
      }
      const held = phases.filter((p) => p.sustained);
      const measured = held.at(-1) ?? phases.at(-1)!;

      const figures = {
        rate_events_per_second: Math.round(measured.ackedPerSecond),
        offered_events_per_second: measured.rate,
        rate_held: measured.sustained ? 1 : 0,
        freshness_p50_ms: percentile(measured.latencies, 50),
        freshness_p99_ms: percentile(measured.latencies, 99),
        freshness_max_ms: percentile(measured.latencies, 100),
        probes: measured.latencies.length,
        probes_not_visible: measured.lost,
        ingest_ack_p50_ms: percentile(measured.ackMs, 50),
        ingest_ack_p99_ms: percentile(measured.ackMs, 99),
        refused_requests: measured.refused,
      };
      const targets = { freshness_p99_ms_max: 2_000, rate_events_per_second_min: TARGET_RATE };
      const tried = phases
        .map(
          (p) =>
            `${p.rate}/s offered → ${Math.round(p.ackedPerSecond)}/s acknowledged, p99 ${percentile(p.latencies, 99)} ms, freshness slope ${round(p.slopeMsPerSecond)} ms/s, ${p.lost} probes not visible within ${DRAIN_MS / 1000} s, ${p.skipped} batches not sent (${MAX_INFLIGHT_REQUESTS} requests in flight), busiest ${p.cpu.processes[0]?.name} ${p.cpu.processes[0]?.avgPct}% of a core, machine ${p.cpu.machineBusyPct}% busy: ${p.sustained ? 'held' : 'not held'}`,
        )
        .join('; ');
      const notes = [
        `Batches of ${BATCH} tracker events to \`/api/v1/track/batch\` from the bench process at a fixed schedule (open loop) for ${PHASE_SECONDS} s per phase, each event with its own event_id; the first event of every other batch is a probe (1 in ${PROBE_EVERY}); probes of the first ${WARMUP_SECONDS} s are not counted. Freshness = arrival of the first answer to \`SELECT ... FROM events WHERE site_id AND timestamp >= AND event_id IN (pending probes)\` (through @clickhouse/client, polled every ${POLL_INTERVAL_MS} ms after the previous answer) that holds the probe, minus the arrival of its batch's 202.`,
        `Phases: ${tried}.`,
        measured.sustained
          ? measured.rate < TARGET_RATE
            ? `The machine did not hold ${TARGET_RATE}/s with every process on it; the figures are at ${measured.rate}/s, the highest rate tried that held.`
            : ''
          : `No phase held its rate; the figures are from the last one (${measured.rate}/s).`,
        `During that phase and its drain the consumer made ${measured.inserts.count} ClickHouse inserts of ${Math.round(measured.inserts.events / Math.max(1, measured.inserts.count))} events on average, each taking ${Math.round((measured.inserts.seconds / Math.max(1, measured.inserts.count)) * 1000)} ms on average (waiting included: the engine host runs one query at a time, the probe polls included).`,
        describeCpu(measured.cpu),
      ];
      return {
        figures,
        ratios: { rate_vs_target: round(measured.ackedPerSecond / TARGET_RATE, 3) },
        targets,
        targets_met:
          measured.sustained &&
          measured.rate >= TARGET_RATE &&
          figures.freshness_p99_ms < targets.freshness_p99_ms_max,
        notes: notes.filter(Boolean).join('\n\n'),
      };
    } finally {
      await poller?.stop();
      await http?.close();
      await stopAll(running);
      await clickhouse.close();
      await stack.stop();
    }
  },
};
