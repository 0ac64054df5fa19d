import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { createClickHouse } from '@tidemark/clickhouse';
import { eventMessageKey } from '@tidemark/events';
import { COMPRESSION_CODECS, ensureTopics } from '@tidemark/kafka';
import { uniqueSuffix } from '../../test/support/names';
import { cpuMicrosPer, CpuSampler, describeCpu, type CpuSummary } from '../lib/cpu';
import { enrichedEvents } from '../lib/events';
import { rssMb, startProcess, waitForLine } from '../lib/load';
import { scrapeMetric, startConsumer, stopAll, type ServiceProcess } from '../lib/services';
import { startBenchStack } from '../lib/stack';
import { pollUntil, round } from '../lib/stats';
import type { Scenario } from '../run';
import { loadConfig as loadConsumerConfig } from '../../services/consumer/src/config';
import { FETCH_REQUEST_MAX_BYTES } from '../../services/consumer/src/event-loader';
import { loadConfig as loadIngestConfig } from '../../services/ingest/src/config';

/** Events produced before either consumer starts; fewer if producing them takes longer than the budget. */
const TARGET_EVENTS = 500_000;
const PRODUCE_BUDGET_MS = 40_000;
const PARTITIONS = 12;
/** Each consumer gets this long to drain the topic; past it the scenario reports how far it got. */
const DRAIN_TIMEOUT_MS = 60_000;
const SITES = Array.from({ length: 40 }, () => randomUUID());
/** Ingest's shipped KAFKA_COMPRESSION, so the topic holds what a default deployment's does. */
const COMPRESSION = loadIngestConfig({}).KAFKA_COMPRESSION;
const consumerDefaults = loadConsumerConfig({});

/**
 * The consumer's load path (decode, exactly-once plan/commit, ClickHouse insert with its
 * materialized views) against a consume-only member of the same run reading the same topic.
 * Targets from issue 4: ≥ 40% of consume-only throughput and ≥ 50,000 events/s.
 */
export const consumer: Scenario = {
  name: 'consumer',
  description: `consumer service: pre-produced enriched events (12 partitions, compression ${COMPRESSION} as ingest's default) to ClickHouse, vs a consume-only kafkajs member (decode + commit) on the same topic`,
  async run() {
    const stack = await startBenchStack();
    const kafka = new Kafka({
      clientId: 'bench-consumer',
      brokers: stack.env.KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    });
    const clickhouse = createClickHouse({
      url: stack.env.CLICKHOUSE_URL!,
      database: stack.env.CLICKHOUSE_DATABASE!,
    });
    const running: ServiceProcess[] = [];
    try {
      const topic = stack.env.KAFKA_TOPIC_EVENTS!;
      await ensureTopics(kafka, [{ topic, numPartitions: PARTITIONS }]);

      // As ingest produces: idempotent, acks=all, its default compression, murmur2 on the visitor key, up to 1,000 per request.
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      const produceStarted = Date.now();
      let produced = 0;
      try {
        const events = enrichedEvents({ sites: SITES });
        const inflight = new Set<Promise<unknown>>();
        while (produced < TARGET_EVENTS && Date.now() - produceStarted < PRODUCE_BUDGET_MS) {
          const messages = [];
          for (let i = 0; i < 1_000; i++) {
            const e = events.next().value!;
            messages.push({ key: eventMessageKey(e), value: JSON.stringify(e) });
          }
          const send = producer
            .send({
              topic,
              acks: -1,
              compression: COMPRESSION_CODECS[COMPRESSION],
              messages,
            })
            .finally(() => inflight.delete(send));
          inflight.add(send);
          produced += messages.length;
          if (inflight.size >= 4) await Promise.race(inflight);
        }
        await Promise.all(inflight);
      } finally {
        await producer.disconnect();
      }
      const produceSeconds = (Date.now() - produceStarted) / 1000;
      console.error(`[bench] consumer: produced ${produced} events in ${round(produceSeconds, 1)} s`);

      // Baseline first: the broker then serves both members from its page cache alike.
      const baseline = await startProcess(
        'bench/lib/consume-only.ts',
        {
          KAFKA_BROKERS: stack.env.KAFKA_BROKERS!,
          TOPIC: topic,
          PARTITIONS: String(PARTITIONS),
          GROUP_ID: `bench-consume-only-${uniqueSuffix()}`,
          EXPECTED: String(produced),
        },
        /^ready (\d+)$/,
      );
      running.push(baseline);
      const baselineCpu = new CpuSampler([
        ...stack.processes,
        { name: 'consume-only', pid: baseline.child.pid! },
        { name: 'bench', pid: process.pid, tree: false },
      ]);
      const baselineDone = await waitForLine(baseline.child, /^done (\d+) (\d+) (\d+)$/, DRAIN_TIMEOUT_MS);
      const baselineUse = baselineCpu.stop();
      const baselineRssPeak = await rssMb(baseline.child.pid!, 'peak');
      const baselineSeconds = (Number(baselineDone[3]) - Number(baseline.match[1])) / 1000;
      const invalid = Number(baselineDone[2]);
      await baseline.stop();
      running.pop();

      const service = await startConsumer(stack.env, {
        CONSUMER_GROUP_ID: `bench-consumer-${uniqueSuffix()}`,
      });
      running.push(service);
      const started = Date.now();
      const serviceCpu = new CpuSampler([
        ...stack.processes,
        { name: 'consumer', pid: service.child.pid! },
        { name: 'bench', pid: process.pid, tree: false },
      ]);
      const count = async () => {
        const rs = await clickhouse.query({
          query: 'SELECT count() AS n FROM events',
          format: 'JSONEachRow',
        });
        return Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
      };
      let loaded = 0;
      let finished = true;
      const doneAt = await pollUntil(
        async () => {
          loaded = await count();
          return loaded >= produced ? Date.now() : undefined;
        },
        { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 250, what: `${produced} rows in events` },
      ).catch(() => {
        finished = false;
        return Date.now();
      });
      const serviceUse = serviceCpu.stop();
      const serviceRssPeak = await rssMb(service.child.pid!, 'peak');
      const serviceSeconds = (doneAt - started) / 1000;
      // Exactly once: no row more than produced, even after the last batches settle.
      const rows = await count();
      const metric = (name: string) => scrapeMetric(service.opsUrl!, name);
      const [batches, batchEvents, insertSeconds] = await Promise.all([
        metric('tidemark_consumer_batch_messages_count'),
        metric('tidemark_consumer_batch_messages_sum'),
        metric('tidemark_consumer_insert_seconds_sum'),
      ]);

      const figures = {
        events: produced,
        produce_events_per_second: Math.round(produced / produceSeconds),
        consume_only_events_per_second: Math.round(produced / baselineSeconds),
        consume_only_seconds: round(baselineSeconds, 2),
        consumer_events_per_second: Math.round(loaded / serviceSeconds),
        consumer_seconds: round(serviceSeconds, 2),
        rows_in_clickhouse: rows,
        undecodable: invalid,
        consume_only_rss_mb_peak: baselineRssPeak,
        consumer_rss_mb_peak: serviceRssPeak,
      };
      const ratio = figures.consumer_events_per_second / figures.consume_only_events_per_second;
      const targets = {
        vs_consume_only_min: 0.4,
        consumer_events_per_second_min: 50_000,
        rows_in_clickhouse: produced,
      };
      // CPU time per event of one process over a sampled window: comparable across machines and
      // runs where events/s are not, and what says which side bounds the rate.
      const usPerEvent = (use: CpuSummary, name: string, events: number) =>
        cpuMicrosPer(use, name, events / use.seconds);
      const consumerUs = usPerEvent(serviceUse, 'consumer', loaded);
      const clickhouseUs = usPerEvent(serviceUse, 'clickhouse', loaded);
      const notes = [
        `${produced} events (${SITES.length} sites, 5-event visits, ~${Math.round(
          JSON.stringify(enrichedEvents({ sites: SITES }).next().value).length,
        )} B of JSON each) produced as ingest produces them by default (acks=all, compression ${COMPRESSION}, 1,000 per request) into ${PARTITIONS} partitions before either member started.`,
        `Each time runs from the member having joined its group (the consumer's "consumer started" log line) to the last event: for the consumer, the first poll of \`SELECT count() FROM events\` (every 250 ms) that saw all of them; the consumer ran with its shipped defaults (up to ${consumerDefaults.CONSUMER_CONCURRENCY} inserts in flight, batches of up to ${consumerDefaults.BATCH_MAX_EVENTS} events over one or more partitions, fetches answered at ${Math.round(consumerDefaults.BATCH_MIN_BYTES / 1024)} KiB or ${consumerDefaults.BATCH_MAX_WAIT_MS} ms).`,
        finished
          ? ''
          : `The consumer did not load every event within ${DRAIN_TIMEOUT_MS / 1000} s: it loaded ${loaded}, and its rate is over that window.`,
        `The consumer stored ${batches} batches (mean ${Math.round(batchEvents / Math.max(1, batches))} events); their ClickHouse inserts took ${round(insertSeconds, 1)} s in all (mean ${Math.round((insertSeconds / Math.max(1, batches)) * 1000)} ms), i.e. ${round(insertSeconds / serviceSeconds, 2)} inserts in flight on average over the run; the engine host runs one query at a time, so concurrent inserts wait for each other there.`,
        `Memory: peak RSS (VmHWM) over each member's life, ${baselineRssPeak} MB consume-only and ${serviceRssPeak} MB consumer. The consumer fetches again while it holds less than \`FETCH_MAX_BYTES\` (${Math.round(consumerDefaults.FETCH_MAX_BYTES / 2 ** 20)} MiB by default; services/consumer/README.md) of fetched, uncommitted messages, at most ${Math.round(FETCH_REQUEST_MAX_BYTES / 2 ** 20)} MiB a fetch, so catching up it holds up to that plus one fetch as stored in Kafka, uncompressed here; a gzipped topic holds ~10 times the events in those bytes.`,
        `Consume-only: ${describeCpu(baselineUse)}`,
        `Consumer: ${describeCpu(serviceUse)}`,
        loaded > 0
          ? `CPU per event: consume-only ~${usPerEvent(baselineUse, 'consume-only', produced)} µs; consumer ~${consumerUs} µs and ClickHouse ~${clickhouseUs} µs (its background merges included), so ${serviceUse.cores} cores store at most ~${Math.round((serviceUse.cores * 1e6) / Math.max(1, consumerUs + clickhouseUs))} events/s.`
          : '',
        figures.consume_only_events_per_second < targets.consumer_events_per_second_min
          ? `The consume-only member, which stores nothing, read ${figures.consume_only_events_per_second} events/s: below the ${targets.consumer_events_per_second_min} events/s target, which no member that also stores can meet on this machine.`
          : '',
      ];
      return {
        figures,
        ratios: { vs_consume_only: round(ratio, 3) },
        targets,
        targets_met:
          finished &&
          ratio >= targets.vs_consume_only_min &&
          figures.consumer_events_per_second >= targets.consumer_events_per_second_min &&
          rows === produced,
        notes: notes.filter(Boolean).join('\n\n'),
      };
    } finally {
      await stopAll(running);
      await clickhouse.close();
      await stack.stop();
    }
  },
};
