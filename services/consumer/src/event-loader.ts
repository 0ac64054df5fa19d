import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { Partitioners, PartitionAssigners } from 'kafkajs';
import { insertEventRows, RowBinaryWriter, type ClickHouse } from '@tidemark/clickhouse';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from '@tidemark/kafka';
import type { Logger } from '@tidemark/logging';
import type { Component } from '@tidemark/runtime';
import { planAwareAssigner } from './assigner';
import {
  BatchPlanner,
  decodePlan,
  encodePlan,
  rangeLabel,
  type Batch,
  type CommittedOffset,
  type PartitionBatcher,
  type Slice,
} from './batcher';
import { decodeInto, type DeadLetterReason } from './decode';
import type { ConsumerMetrics } from './metrics';
import type { Notifier } from './notifications';
import { StoredEvents } from './stored-events';

export interface EventLoaderOptions {
  kafka: Kafka;
  clickhouse: ClickHouse;
  topic: string;
  dlqTopic: string;
  groupId: string;
  maxBatchEvents: number;
  maxWaitMs: number;
  minBytes: number;
  /** Most bytes of fetched, uncommitted messages the process holds before it stops fetching. */
  maxBytes: number;
  /** ClickHouse inserts in flight at once. */
  concurrency: number;
  sessionTimeoutMs: number;
  /** Test hook: sleep between the insert and the final commit (see CONSUMER_TEST_PAUSE_BEFORE_COMMIT_MS). */
  pauseBeforeCommitMs: number;
  logger: Logger;
  metrics: ConsumerMetrics;
  /** Tells the worker about the stored events (goal completions, webhook fan-out) before the commit. */
  notifier: Notifier;
  /** kafkajs gave up on the consumer (a non-retriable error): the process should stop and be restarted. */
  onFatal: (err: Error) => void;
}

interface DeadLetter {
  reason: DeadLetterReason;
  message: { key: Buffer | null; value: Buffer | null; headers: Record<string, string> };
}

const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 10_000;

/** Errors meaning this member no longer owns its partitions: stop, let kafkajs rejoin, never commit. */
const LOST_OWNERSHIP = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'FENCED_INSTANCE_ID',
  'NOT_COORDINATOR_FOR_GROUP',
]);
const lostOwnership = (err: unknown) => LOST_OWNERSHIP.has((err as { type?: string }).type ?? '');

const rangesOf = (batch: Batch<KafkaMessage>) => batch.slices.map(rangeLabel);

/** What loads need of kafkajs' consumer-group session; any eachBatch payload of the run provides it. */
type GroupSession = Pick<EachBatchPayload, 'commitOffsetsIfNecessary' | 'heartbeat' | 'isRunning'>;

/**
 * Most bytes one fetch asks for, however much the process may hold (`maxBytes`). kafkajs copies each
 * answer into one new buffer; past 32 MiB (glibc's largest mmap threshold) that buffer is fresh
 * memory, paged in anew for every fetch. Catching up in the consumer benchmark, 16 MiB fetches under
 * the default 48 MiB hold cost the consumer ~1-2 µs less per event than 48 MiB ones, stored ~10%
 * more events/s and peaked ~110 MB lower (services/consumer/README.md).
 */
export const FETCH_REQUEST_MAX_BYTES = 16 * 1024 * 1024;

/** kafkajs' fetch size limits: one partition may bring up to a batch (events are well under 1 KiB each). */
export const fetchLimits = (opts: Pick<EventLoaderOptions, 'maxBatchEvents' | 'maxBytes'>) => {
  const request = Math.min(opts.maxBytes, FETCH_REQUEST_MAX_BYTES);
  return {
    maxBytesPerPartition: Math.min(request, Math.max(1024 * 1024, opts.maxBatchEvents * 1024)),
    maxBytes: request,
  };
};

/**
 * Loads the events topic into ClickHouse exactly once (see batcher.ts for the protocol), and tells
 * the worker about the stored events (notifications.ts) at least once. Every batch is retried until
 * it is stored, notified and committed: while ClickHouse, PostgreSQL or Redis (or the DLQ) is
 * unavailable its partitions are paused and the attempt backs off, heartbeating so the group keeps
 * them here. A retry resumes at the step that failed.
 *
 * kafkajs hands each fetch's partitions to `eachBatch` together and fetches again once every call
 * returned. Each call adds its messages to the planner, lets the others add theirs, then starts
 * every batch that can be formed (up to `concurrency` in flight) and returns, unless the process
 * holds `maxBytes` or more uncommitted: so the next fetch overlaps the inserts, at moderate rates
 * one insert carries every partition of the fetch, and under load up to `concurrency` inserts of
 * `maxBatchEvents` are in flight. A finished load starts what its partitions fetched meanwhile.
 */
export class EventLoader {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly planner: BatchPlanner<KafkaMessage>;
  /** Partitions of the current assignment. */
  private owned = new Set<number>();
  /** The newest high watermark seen per partition, for the lag metric. */
  private readonly highWatermarks = new Map<number, string>();
  private inFlight = 0;
  /** Loads in flight, which shutdown waits for. */
  private readonly loads = new Set<Promise<void>>();
  /** eachBatch calls waiting for a load to finish before they let kafkajs fetch again. */
  private readonly progressWaiters: (() => void)[] = [];
  /** The group session of the latest eachBatch: loads commit and heartbeat through it. */
  private session: GroupSession | undefined;
  /** A load's error that kafkajs must see: the next eachBatch of that assignment throws it. */
  private lost: { assignment: number; err: unknown } | undefined;
  /** Shutdown began: no batch is started, and failed ones stop retrying. */
  private stopping = false;
  /** Between the end of an assignment and the next GROUP_JOIN: nothing starts or commits. */
  private rejoining = false;
  /** The group's committed offsets, read once per assignment. */
  private committed: Promise<Map<number, CommittedOffset>> | undefined;
  /** Bumped on every assignment, so work begun under an older one cannot install stale state. */
  private assignment = 0;
  private lastContact = 0;
  private failure: string | undefined;
  /** Kafka wants heartbeats well within the session timeout. */
  private readonly heartbeatIntervalMs: number;

  constructor(private readonly opts: EventLoaderOptions) {
    this.heartbeatIntervalMs = Math.min(3_000, Math.floor(opts.sessionTimeoutMs / 3));
    this.planner = new BatchPlanner<KafkaMessage>(
      opts.topic,
      opts.maxBatchEvents,
      (m) => (m.value?.length ?? 0) + (m.key?.length ?? 0),
    );
    this.consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      // Round-robin only while members of an older release (which offer nothing else) are in the group.
      partitionAssigners: [
        planAwareAssigner((topic) => this.pendingPlans(topic)),
        PartitionAssigners.roundRobin,
      ],
      sessionTimeout: opts.sessionTimeoutMs,
      heartbeatInterval: this.heartbeatIntervalMs,
      maxWaitTimeInMs: opts.maxWaitMs,
      minBytes: opts.minBytes,
      ...fetchLimits(opts),
      allowAutoTopicCreation: false,
    });
    this.producer = opts.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.admin = opts.kafka.admin();

    const { GROUP_JOIN, HEARTBEAT, FETCH, CRASH, STOP, REBALANCING, REQUEST } = this.consumer.events;
    // The assignment ends when kafkajs sets out to rejoin, and at the latest when a JoinGroup answer
    // arrives, whatever made it rejoin (a rebalance, an expired session, a restart): this event
    // comes before kafkajs reads the answer's new generation. See `commit` for why.
    this.consumer.on(REBALANCING, () => this.endAssignment());
    this.consumer.on(REQUEST, ({ payload }) => {
      if (payload.apiName === 'JoinGroup') this.endAssignment();
    });
    this.consumer.on(GROUP_JOIN, ({ payload }) => {
      this.assignment++;
      this.rejoining = false;
      this.planner.clear();
      this.owned = new Set(payload.memberAssignment[this.opts.topic] ?? []);
      this.committed = undefined;
      this.opts.metrics.lag.reset();
      this.contact();
      this.opts.logger.info({ assignment: payload.memberAssignment }, 'joined the consumer group');
    });
    this.consumer.on(HEARTBEAT, () => this.contact());
    this.consumer.on(FETCH, () => this.contact());
    this.consumer.on(CRASH, ({ payload }) => {
      this.endAssignment();
      this.planner.clear();
      this.committed = undefined;
      this.failure = payload.restart ? undefined : payload.error.message;
      this.opts.logger.error(
        { err: payload.error.message, restart: payload.restart },
        'kafka consumer crashed',
      );
      if (!payload.restart) this.opts.onFatal(payload.error);
    });
    this.consumer.on(STOP, () => {
      this.failure = 'consumer stopped';
    });
  }

  async start(): Promise<void> {
    await this.admin.connect();
    await this.producer.connect();
    await this.consumer.connect();
    // A new group starts at the beginning: events produced before the first consumer are loaded too.
    await this.consumer.subscribe({ topics: [this.opts.topic], fromBeginning: true });
    const metadata = await this.admin.fetchTopicMetadata({ topics: [this.opts.topic] });
    const partitions = metadata.topics[0]?.partitions.length ?? 1;
    this.contact();
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Every partition of a fetch must reach eachBatch at once for one insert to carry them all.
      partitionsConsumedConcurrently: Math.max(partitions, this.opts.concurrency),
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  component(): Component {
    return {
      name: 'kafka',
      healthcheck: async () => {
        if (this.failure) throw new Error(this.failure);
        if (this.lastContact === 0) throw new Error('not connected yet');
        const silentMs = Date.now() - this.lastContact;
        if (silentMs > this.opts.sessionTimeoutMs)
          throw new Error(`no answer from the brokers for ${Math.round(silentMs / 1000)} s`);
      },
      // No batch starts; those in flight finish and commit (a failing one stops retrying, uncommitted);
      // then kafkajs stops fetching and leaves the group.
      onShutdown: async () => {
        this.stopping = true;
        this.wakeProgressWaiters();
        await Promise.all(this.loads);
        await this.consumer.disconnect();
        await this.producer.disconnect();
        await this.admin.disconnect();
      },
    };
  }

  private contact(): void {
    this.lastContact = Date.now();
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const assignment = this.assignment;
    this.session = {
      commitOffsetsIfNecessary: payload.commitOffsetsIfNecessary,
      heartbeat: payload.heartbeat,
      isRunning: payload.isRunning,
    };
    this.throwIfLost(assignment);
    const batcher = await this.batcherFor(batch.partition);
    if (!batcher) return;
    batcher.add(batch.messages);
    this.highWatermarks.set(batch.partition, batch.highWatermark);
    // Resolving only moves kafkajs' fetch position (autoCommit is off): the next fetch continues
    // after what the planner already holds.
    const tail = batch.messages.at(-1);
    if (tail) payload.resolveOffset(tail.offset);
    // The fetch's other partitions reach their eachBatch in this turn: let them add their messages.
    await nextTurn();
    this.pump();
    // kafkajs fetches again once every eachBatch of this fetch returned. Returning while batches are
    // still being stored lets the next fetch, and the decoding of its batches, run beside their inserts;
    // waiting while `maxBytes` is held bounds what the process keeps in memory.
    while (
      this.planner.held >= this.opts.maxBytes &&
      this.inFlight > 0 &&
      this.accepting(assignment) &&
      payload.isRunning() &&
      !payload.isStale()
    ) {
      await new Promise<void>((resolve) => this.progressWaiters.push(resolve));
      this.throwIfLost(assignment);
    }
  }

  /** Whether batches of `assignment` may still commit. */
  private current(assignment: number): boolean {
    return assignment === this.assignment && !this.rejoining;
  }

  /** Whether batches of `assignment` may still be started or retried (a stored one may still commit). */
  private accepting(assignment: number): boolean {
    return this.current(assignment) && !this.stopping;
  }

  private wakeProgressWaiters(): void {
    for (const wake of this.progressWaiters.splice(0)) wake();
  }

  private endAssignment(): void {
    this.assignment++;
    this.rejoining = true;
    this.wakeProgressWaiters();
  }

  /**
   * A load failed in a way kafkajs must handle: it rejoins the group (or retries, for any other
   * error) when eachBatch throws, or on its own next failed heartbeat if no eachBatch comes.
   */
  private throwIfLost(assignment: number): void {
    const lost = this.lost;
    if (!lost || lost.assignment !== assignment) return;
    this.lost = undefined;
    throw lost.err;
  }

  /**
   * Starts loading every batch that can be formed, up to `concurrency` in flight. Beside one in
   * flight a batch starts only with half of `maxBatchEvents` or more, or when the process holds
   * `maxBytes` (and so fetches no more until a batch is done): at moderate rates more inserts would
   * not store more, each costs ClickHouse a part per table, and what arrives meanwhile joins the
   * next batch instead. Catching up, a batch still starts beside the one being stored, so it is
   * decoded while the engine works, and it is big enough to keep the engine's cost per event low.
   */
  private pump(): void {
    const assignment = this.assignment;
    while (this.inFlight < this.opts.concurrency && this.accepting(assignment) && this.session?.isRunning()) {
      const overlapping = this.inFlight > 0 && this.planner.held < this.opts.maxBytes;
      const next = this.planner.take({
        minEvents: overlapping ? Math.ceil(this.opts.maxBatchEvents / 2) : 1,
      });
      if (!next) return;
      this.inFlight++;
      const loading = this.load(next, assignment)
        .catch((err: unknown) => {
          // Raised from the next eachBatch, so kafkajs rejoins the group (or restarts the consumer).
          this.lost = { assignment, err };
          if (lostOwnership(err))
            this.opts.logger.warn(
              { err: (err as Error).message, ranges: rangesOf(next) },
              'the group is rebalancing; the batch is left to whoever owns its partitions next',
            );
          else this.opts.logger.error({ err, ranges: rangesOf(next) }, 'loading a batch failed');
          return false;
        })
        .then((loaded) => this.settle(next, assignment, loaded))
        .finally(() => this.loads.delete(loading));
      this.loads.add(loading);
    }
  }

  private settle(batch: Batch<KafkaMessage>, assignment: number, loaded: boolean): void {
    this.inFlight--;
    if (assignment === this.assignment) {
      if (loaded) this.planner.done(batch);
      else this.planner.release(batch);
    }
    if (loaded) {
      for (const slice of batch.slices) {
        const highWatermark = this.highWatermarks.get(slice.partition) ?? slice.last;
        const lag = BigInt(highWatermark) - BigInt(slice.last) - 1n;
        this.opts.metrics.lag.set(
          { topic: batch.topic, partition: slice.partition },
          Number(lag > 0n ? lag : 0n),
        );
      }
      // Its partitions are free again: what was fetched behind it can form the next batch.
      this.pump();
    }
    this.wakeProgressWaiters();
  }

  private async batcherFor(partition: number): Promise<PartitionBatcher<KafkaMessage> | undefined> {
    const existing = this.planner.get(partition);
    if (existing) return existing;
    const assignment = this.assignment;
    const committed = await this.committedOffsets();
    if (assignment !== this.assignment) return undefined;
    // Two calls for one partition may both have waited for the offsets: the first one opened it.
    const opened = this.planner.get(partition);
    if (opened) return opened;
    const batcher = this.planner.open(
      partition,
      committed.get(partition) ?? { offset: '-1', metadata: null },
    );
    const foreign = batcher.plan?.ranges.filter((r) => !this.owned.has(r.partition)).map((r) => r.partition);
    if (foreign && foreign.length > 0) {
      this.opts.logger.warn(
        { partition, plannedWith: foreign },
        'a planned batch spans partitions another member holds; it waits for a rebalance that assigns them together',
      );
    }
    return batcher;
  }

  /** Partitions of each multi-partition plan the group has not committed past (for the assigner). */
  private async pendingPlans(topic: string): Promise<number[][]> {
    const [offsets] = await this.admin.fetchOffsets({ groupId: this.opts.groupId, topics: [topic] });
    const plans: number[][] = [];
    for (const { partition, offset, metadata } of offsets?.partitions ?? []) {
      const plan = decodePlan(metadata, BigInt(offset), partition);
      if (plan && plan.ranges.length > 1) plans.push(plan.ranges.map((r) => r.partition));
    }
    return plans;
  }

  private committedOffsets(): Promise<Map<number, CommittedOffset>> {
    this.committed ??= this.admin
      .fetchOffsets({ groupId: this.opts.groupId, topics: [this.opts.topic] })
      .then(([topic]) => new Map((topic?.partitions ?? []).map((p) => [p.partition, p])))
      .catch((err: unknown) => {
        this.committed = undefined;
        throw err;
      });
    return this.committed;
  }

  /**
   * True once the batch is stored and committed; false if the consumer is stopping or the
   * partitions were reassigned first (whoever reads them next replays the batch from its plan).
   */
  private async load(batch: Batch<KafkaMessage>, assignment: number): Promise<boolean> {
    const { logger, metrics } = this.opts;
    const events = new StoredEvents();
    const deadLetters: DeadLetter[] = [];
    let messages = 0;
    for (const slice of batch.slices) messages += slice.messages.length;
    // Written once: a retry sends the same bytes.
    const rows = new RowBinaryWriter(messages * 256);
    for (const slice of batch.slices) {
      for (const message of slice.messages) {
        const decoded = decodeInto(rows, message.value);
        if (decoded.kind === 'ok') events.add(message.value!, decoded.event);
        else deadLetters.push(this.deadLetter(batch.topic, slice, message, decoded.reason, decoded.detail));
      }
    }
    metrics.batchSize.observe(messages);
    metrics.batchPartitions.observe(batch.slices.length);
    if (batch.replay) {
      metrics.replayedBatches.inc();
      logger.info({ ranges: rangesOf(batch) }, 'replaying a planned batch');
    }
    let resume: (() => void) | undefined;
    // Steps done survive a failed attempt: a Redis outage does not send the rows to ClickHouse again.
    let stored = false;
    let notified = false;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          if (!stored && !(await this.store(batch, rows.bytes(), events.length, assignment))) return false;
          stored = true;
          if (!notified) await this.whileHeartbeating(this.opts.notifier.notify(batch, events));
          notified = true;
          return await this.finish(batch, events.length, deadLetters, assignment);
        } catch (err) {
          if (lostOwnership(err)) throw err;
          const notifying = stored && !notified;
          (notifying ? metrics.notifyFailures : metrics.insertFailures).inc();
          logger.warn(
            { err: (err as Error).message, ranges: rangesOf(batch), attempt },
            notifying
              ? 'could not notify the worker of a stored batch; retrying'
              : 'could not store a batch; retrying',
          );
          // Stop fetching its partitions until the batch is through: nothing behind it may be committed.
          resume ??= this.pause(batch);
          if (!(await this.backoff(attempt, assignment))) return false;
        }
      }
    } finally {
      resume?.();
    }
  }

  /** Steps 1 and 2 of the protocol: record the plan, insert. False if the partitions moved first. */
  private async store(
    batch: Batch<KafkaMessage>,
    rows: Uint8Array,
    events: number,
    assignment: number,
  ): Promise<boolean> {
    const { clickhouse, metrics } = this.opts;
    if (events === 0) return true;
    const plan = batch.slices.map((s) => ({
      partition: s.partition,
      offset: s.first,
      metadata: encodePlan(batch.slices, s.partition, batch.into),
    }));
    if (!(await this.commit(assignment, batch.topic, plan))) return false;
    const started = process.hrtime.bigint();
    await this.whileHeartbeating(
      insertEventRows(clickhouse, rows, { dedupToken: batch.dedupToken, table: batch.into }),
    );
    metrics.insertSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    metrics.insertedEvents.inc(events);
    return true;
  }

  /** Steps 4 and 5: dead-letter what could not be decoded, commit the end of the batch. */
  private async finish(
    batch: Batch<KafkaMessage>,
    events: number,
    deadLetters: DeadLetter[],
    assignment: number,
  ): Promise<boolean> {
    const { dlqTopic, metrics, logger, pauseBeforeCommitMs } = this.opts;
    // The partitions' next owner replays the batch, dead letters included.
    if (!this.current(assignment)) return false;
    if (deadLetters.length > 0) {
      await this.producer.send({ topic: dlqTopic, acks: -1, messages: deadLetters.map((d) => d.message) });
      for (const d of deadLetters) metrics.deadLetters.inc({ reason: d.reason });
    }
    logger.debug({ ranges: rangesOf(batch), events, deadLetters: deadLetters.length }, 'batch stored');
    if (pauseBeforeCommitMs > 0) await this.whileHeartbeating(sleep(pauseBeforeCommitMs));
    const ends = batch.slices.map((s) => ({
      partition: s.partition,
      offset: String(BigInt(s.last) + 1n),
      metadata: null,
    }));
    return this.commit(assignment, batch.topic, ends);
  }

  /**
   * Commits through the batch payload's session, which goes straight to the group coordinator with
   * this member's generation, in one request for all the partitions. (`consumer.commitOffsets`
   * silently does nothing once `stop()` began, which would lose the plan or the final commit of a
   * batch that shutdown lets finish.)
   *
   * Kafka checks the generation, not who owns a partition: once this member has rejoined, a commit
   * for a batch of the assignment before would be accepted, and could overwrite the plan of a batch
   * the partition's new owner has recorded since. So a batch commits only while its assignment is
   * current, and an assignment ends before kafkajs learns the next generation (see the REQUEST
   * listener); until then the coordinator refuses the old generation's commits during a rebalance.
   * False: not committed.
   */
  private async commit(
    assignment: number,
    topic: string,
    partitions: { partition: number; offset: string; metadata: string | null }[],
  ): Promise<boolean> {
    if (!this.current(assignment) || !this.session) return false;
    await this.session.commitOffsetsIfNecessary({ topics: [{ topic, partitions }] });
    return true;
  }

  private pause(batch: Batch<KafkaMessage>): () => void {
    const topics = [{ topic: batch.topic, partitions: batch.slices.map((s) => s.partition) }];
    this.consumer.pause(topics);
    return () => this.consumer.resume(topics);
  }

  private deadLetter(
    topic: string,
    slice: Slice<KafkaMessage>,
    message: KafkaMessage,
    reason: DeadLetterReason,
    detail: string,
  ) {
    return {
      reason,
      message: {
        key: message.key,
        value: message.value,
        headers: {
          'dlq-reason': reason,
          'dlq-error': detail,
          'dlq-source-topic': topic,
          'dlq-source-partition': String(slice.partition),
          'dlq-source-offset': message.offset,
          'dlq-consumer-group': this.opts.groupId,
        },
      },
    };
  }

  /** Keeps the group membership alive during an insert that may outlast the session timeout. */
  private async whileHeartbeating<T>(work: Promise<T>): Promise<T> {
    let lost: unknown;
    const timer = setInterval(() => {
      this.session?.heartbeat().catch((err: unknown) => {
        if (lostOwnership(err)) lost = err;
      });
    }, this.heartbeatIntervalMs);
    try {
      const result = await work;
      if (lost) throw lost;
      return result;
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * Waits before the next attempt; false when the consumer is stopping or the partitions were
   * reassigned meanwhile (the batch stays uncommitted).
   */
  private async backoff(attempt: number, assignment: number): Promise<boolean> {
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
    const until = Date.now() + delay * (0.5 + Math.random() / 2);
    const going = () => this.accepting(assignment) && this.session?.isRunning() === true;
    while (Date.now() < until) {
      if (!going()) return false;
      await sleep(Math.min(250, until - Date.now()));
      // kafkajs sends at most one heartbeat per interval, so calling it often is cheap.
      await this.session?.heartbeat().catch((err: unknown) => {
        if (lostOwnership(err)) throw err;
      });
    }
    return going();
  }
}
