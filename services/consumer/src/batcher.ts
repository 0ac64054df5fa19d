import { EVENTS_INGEST_TABLE, EVENTS_TABLE, type EventInsertTable } from '@tidemark/clickhouse';

/**
 * Batch boundaries, and why a replayed batch is always the same batch.
 *
 * ClickHouse drops an insert whose `insert_deduplication_token` it has seen recently, in `events`
 * and in every view's target table. A batch stored but not committed (the process died in
 * between) is therefore harmless only if it is stored again under the same token, i.e. as the
 * SAME offset ranges. kafkajs hands `eachBatch` whatever the fetch returned, so after a restart the
 * natural boundaries differ: [100, 180] was stored, the process died before committing 181, and the
 * next fetch returns [100, 250] - a new token, and 100..180 would be stored twice. Fixed-size
 * batches do not fix it: a short batch cut when the fetch wait ran out ([100, 180] because only 81
 * messages had arrived) is not re-formed once more have arrived.
 *
 * So the ranges are recorded before they are inserted, where the next reader of a partition looks
 * anyway: the consumer group's committed offset, whose metadata string Kafka keeps with it.
 *
 * One batch (one ClickHouse insert) holds ranges of one or more partitions this process owns: a
 * ClickHouse insert costs ~25 ms before its first row on the embedded engine, so twelve partitions
 * loaded one insert each would spend most of the engine's time on that at moderate rates. For each
 * batch:
 *
 *   1. plan     one commit for all its partitions: offset = first, metadata = its own range and
 *               the others' (`encodePlan`); positions unchanged. Kafka writes one commit request's
 *               offsets together, so either every partition of the batch names it or none does.
 *   2. insert   the decodable messages of the ranges, into the plan's table (`events_ingest`), token
 *               `<topic>:<partition>:<first>-<last>` per range, joined by `,`
 *   3. notify   enqueue the worker's jobs for the stored events (notifications.ts); their ids come
 *               from the events and the ranges, so a replay enqueues nothing new
 *   4. dead-letter the others, each to the DLQ topic with its reason
 *   5. commit   one commit: offset = last + 1 for every range, no metadata
 *
 * Whoever reads a partition next (this process after an error, a restarted one, or another group
 * member after a rebalance) starts at the committed offset. When a plan is attached it waits for,
 * and loads, exactly those ranges with the same token, whatever the fetches return: ClickHouse drops
 * them if step 2 had finished, stores them if not. That needs every partition of the plan in one
 * process: the group's assigner (assigner.ts) keeps them together. Kafka refuses commits from a
 * member that no longer owns its partitions (generation check), so a stale owner can neither record
 * a new plan nor move the offsets; its late insert of the current plan carries the same token and
 * is dropped as well. Without a plan (the previous batch was committed) boundaries are free: a batch
 * is what the fetches returned for the partitions not already being loaded, at most `maxEvents`
 * messages.
 */

export interface OffsetMessage {
  offset: string;
}

/** Offsets `first` to `last` (both included) of one partition. */
export interface Range {
  partition: number;
  first: string;
  last: string;
}

export interface Slice<M extends OffsetMessage> extends Range {
  messages: M[];
}

/** One ClickHouse insert: a range of each of one or more partitions, in partition order. */
export interface Batch<M extends OffsetMessage> {
  topic: string;
  slices: Slice<M>[];
  dedupToken: string;
  /** Re-formed from a plan recorded by an earlier attempt, which may already be stored. */
  replay: boolean;
  /** The table the insert enters by: a replay takes the path its first attempt took. */
  into: EventInsertTable;
}

/** A batch as recorded in the offset metadata: every range of it, and the table it goes into. */
export interface Plan {
  ranges: Range[];
  into: EventInsertTable;
}

/**
 * Kafka keeps at most `offset.metadata.max.bytes` (4096 by default) of metadata per partition, and
 * each partition's plan names all of its batch's ranges (~30 bytes each).
 */
export const MAX_PARTITIONS_PER_BATCH = 64;

const byPartition = (a: Range, b: Range) => a.partition - b.partition;

/** `<partition>:<first>-<last>`: a range as tokens and log lines name it. */
export const rangeLabel = (r: Range) => `${r.partition}:${r.first}-${r.last}`;

export const dedupToken = (topic: string, ranges: readonly Range[]) =>
  `${topic}:${[...ranges].sort(byPartition).map(rangeLabel).join(',')}`;

/**
 * The metadata committed with `partition`'s first offset: its range, the other ranges of its batch
 * under `with`, and the table under `into`. A one-partition plan has no `with`, as before batches
 * spanned partitions; a plan without `into` was recorded before `events_ingest` existed and is
 * replayed into `events`, the way it was first inserted.
 */
export function encodePlan(ranges: readonly Range[], partition: number, into: EventInsertTable): string {
  const own = ranges.find((r) => r.partition === partition);
  if (!own) throw new Error(`partition ${partition} is not in the batch`);
  const others = ranges.filter((r) => r !== own).sort(byPartition);
  const plan = { first: own.first, last: own.last };
  return JSON.stringify({
    plan,
    ...(others.length > 0 ? { with: others.map((r) => [r.partition, r.first, r.last]) } : {}),
    ...(into === EVENTS_TABLE ? {} : { into }),
  });
}

const isOffset = (value: unknown): value is string => typeof value === 'string' && /^\d+$/.test(value);

/**
 * The batch (all its ranges, in partition order, and its table) planned at `partition`'s committed
 * offset, if the metadata holds one that starts there; anything else means "no plan".
 */
export function decodePlan(
  metadata: string | null | undefined,
  committedOffset: bigint,
  partition: number,
): Plan | undefined {
  if (!metadata) return undefined;
  try {
    const parsed = JSON.parse(metadata) as {
      plan?: { first?: unknown; last?: unknown };
      with?: unknown;
      into?: unknown;
    };
    const { plan } = parsed;
    const into = parsed.into ?? EVENTS_TABLE;
    if (into !== EVENTS_INGEST_TABLE && into !== EVENTS_TABLE) return undefined;
    if (!isOffset(plan?.first) || !isOffset(plan.last)) return undefined;
    if (BigInt(plan.first) !== committedOffset) return undefined;
    const ranges: Range[] = [{ partition, first: plan.first, last: plan.last }];
    if (parsed.with !== undefined) {
      if (!Array.isArray(parsed.with)) return undefined;
      for (const entry of parsed.with as unknown[]) {
        if (!Array.isArray(entry) || entry.length !== 3) return undefined;
        const [p, first, last] = entry as unknown[];
        if (!Number.isInteger(p) || (p as number) < 0 || !isOffset(first) || !isOffset(last))
          return undefined;
        ranges.push({ partition: p as number, first, last });
      }
    }
    if (new Set(ranges.map((r) => r.partition)).size !== ranges.length) return undefined;
    if (ranges.some((r) => BigInt(r.last) < BigInt(r.first))) return undefined;
    return { ranges: ranges.sort(byPartition), into };
  } catch {
    return undefined;
  }
}

/** Committed position of a partition as `admin.fetchOffsets` reports it (`-1`: nothing committed). */
export interface CommittedOffset {
  offset: string;
  metadata: string | null;
}

type PlanState = 'none' | 'waiting' | 'ready' | 'deleted';

/** The fetched-but-unloaded messages of one partition, and the plan found at its committed offset. */
export class PartitionBatcher<M extends OffsetMessage> {
  private pending: M[] = [];
  /** Sum of `sizeOf` over `pending`. */
  private pendingSize = 0;
  /** First offset not covered by a committed batch; undefined while nothing was ever committed. */
  private next: bigint | undefined;
  plan: Plan | undefined;

  constructor(
    readonly partition: number,
    committed: CommittedOffset,
    private readonly sizeOf: (message: M) => number = () => 1,
  ) {
    const offset = BigInt(committed.offset);
    this.next = offset >= 0n ? offset : undefined;
    this.plan = decodePlan(committed.metadata, offset, partition);
  }

  /** Appends fetched messages in offset order; ones already pending or already loaded are ignored. */
  add(messages: readonly M[]): void {
    for (const message of messages) {
      const offset = BigInt(message.offset);
      const tail = this.pending.at(-1);
      const expected = tail ? BigInt(tail.offset) + 1n : this.next;
      if (expected !== undefined && offset < expected) continue;
      this.pending.push(message);
      this.pendingSize += this.sizeOf(message);
    }
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** What the pending messages weigh (`sizeOf`), those in a batch being loaded included. */
  get held(): number {
    return this.pendingSize;
  }

  /** Whether this partition's planned range has been fetched whole, or is gone from the log. */
  planState(): PlanState {
    const own = this.plan?.ranges.find((r) => r.partition === this.partition);
    if (!own) return 'none';
    const head = this.pending[0];
    const tail = this.pending.at(-1);
    if (!head || !tail) return 'waiting';
    // Retention deleted the planned range before it could be loaded: nothing to re-form.
    if (BigInt(head.offset) > BigInt(own.last)) return 'deleted';
    return BigInt(tail.offset) < BigInt(own.last) ? 'waiting' : 'ready';
  }

  /** This partition's slice of its plan; call only when `planState()` is 'ready'. */
  plannedSlice(): Slice<M> {
    const own = this.plan?.ranges.find((r) => r.partition === this.partition) as Range;
    const end = this.pending.findIndex((m) => BigInt(m.offset) > BigInt(own.last));
    return { ...own, messages: this.pending.slice(0, end < 0 ? undefined : end) };
  }

  /** Up to `max` pending messages from the head, for a batch without a plan. */
  freeSlice(max: number): Slice<M> | undefined {
    const messages = this.pending.slice(0, max);
    const head = messages[0];
    const tail = messages.at(-1);
    if (!head || !tail) return undefined;
    return { partition: this.partition, first: head.offset, last: tail.offset, messages };
  }

  /** The range up to `last` is stored and committed: the next batch starts after it. */
  done(last: string): void {
    const end = BigInt(last);
    const found = this.pending.findIndex((m) => BigInt(m.offset) > end);
    const kept = found < 0 ? this.pending.length : found;
    for (let i = 0; i < kept; i++) this.pendingSize -= this.sizeOf(this.pending[i] as M);
    this.pending = this.pending.slice(kept);
    this.next = end + 1n;
    this.plan = undefined;
  }
}

/**
 * The partitions of this process and the rule that cuts their pending messages into batches. Pure:
 * the caller does the Kafka and ClickHouse work and reports back with `done` or `release`.
 */
export class BatchPlanner<M extends OffsetMessage> {
  private readonly batchers = new Map<number, PartitionBatcher<M>>();
  /** Partitions in a batch being loaded: nothing else of theirs is taken until it is done. */
  private readonly busy = new Set<number>();
  /** Where the next free batch starts looking, so a busy partition cannot starve the others. */
  private rotation = 0;

  constructor(
    readonly topic: string,
    private readonly maxEvents: number,
    /** A message's weight in `held`: 1 counts messages; the loader weighs bytes. */
    private readonly sizeOf: (message: M) => number = () => 1,
  ) {}

  get(partition: number): PartitionBatcher<M> | undefined {
    return this.batchers.get(partition);
  }

  /** What every partition's fetched but uncommitted messages weigh, those being loaded included. */
  get held(): number {
    let sum = 0;
    for (const batcher of this.batchers.values()) sum += batcher.held;
    return sum;
  }

  open(partition: number, committed: CommittedOffset): PartitionBatcher<M> {
    const batcher = new PartitionBatcher<M>(partition, committed, this.sizeOf);
    this.batchers.set(partition, batcher);
    return batcher;
  }

  /** A new assignment: nothing held so far may be loaded under it. */
  clear(): void {
    this.batchers.clear();
    this.busy.clear();
  }

  /**
   * The next batch to load, or undefined while nothing can form one. A planned batch comes first,
   * once every partition it names is here, idle and fetched far enough; partitions waiting on a
   * plan are left out of free batches. `minEvents`: a free batch only if it holds that many
   * messages (or as many partitions as one plan can name), so that a little of what arrives while
   * another batch is being stored waits and joins the next batch instead of making an insert of
   * its own.
   */
  take({ minEvents = 1 }: { minEvents?: number } = {}): Batch<M> | undefined {
    const planned = this.takePlanned();
    if (planned) return planned;
    const order = [...this.batchers.keys()].sort((a, b) => a - b);
    const start = this.rotation++ % Math.max(1, order.length);
    const slices: Slice<M>[] = [];
    let room = this.maxEvents;
    for (let i = 0; i < order.length && room > 0 && slices.length < MAX_PARTITIONS_PER_BATCH; i++) {
      const partition = order[(start + i) % order.length] as number;
      const batcher = this.batchers.get(partition) as PartitionBatcher<M>;
      if (this.busy.has(partition) || batcher.plan) continue;
      const slice = batcher.freeSlice(room);
      if (!slice) continue;
      slices.push(slice);
      room -= slice.messages.length;
    }
    if (slices.length === 0) return undefined;
    const events = this.maxEvents - room;
    if (events < Math.min(minEvents, this.maxEvents) && slices.length < MAX_PARTITIONS_PER_BATCH)
      return undefined;
    return this.claim(slices, false, EVENTS_INGEST_TABLE);
  }

  /** The batch is stored and committed. */
  done(batch: Batch<M>): void {
    for (const slice of batch.slices) {
      this.batchers.get(slice.partition)?.done(slice.last);
      this.busy.delete(slice.partition);
    }
  }

  /** The batch was not loaded (the consumer is stopping): its partitions are free again. */
  release(batch: Batch<M>): void {
    for (const slice of batch.slices) this.busy.delete(slice.partition);
  }

  private takePlanned(): Batch<M> | undefined {
    for (const batcher of this.batchers.values()) {
      const plan = batcher.plan;
      if (!plan || this.busy.has(batcher.partition)) continue;
      const token = dedupToken(this.topic, plan.ranges);
      const partners: PartitionBatcher<M>[] = [];
      for (const range of plan.ranges) {
        const partner = this.batchers.get(range.partition);
        // Not fetched here yet (or owned by another process until the assigner reunites them): wait.
        if (!partner) break;
        partners.push(partner);
      }
      if (partners.length < plan.ranges.length || partners.some((m) => this.busy.has(m.partition))) continue;
      // One commit wrote every partition's plan, so they agree; one that does not is not ours to replay.
      const agree = (m: PartitionBatcher<M>) =>
        m.plan !== undefined && m.plan.into === plan.into && dedupToken(this.topic, m.plan.ranges) === token;
      if (!partners.every(agree)) {
        batcher.plan = undefined;
        continue;
      }
      const states = partners.map((m) => m.planState());
      if (states.includes('deleted')) {
        for (const m of partners) m.plan = undefined;
        continue;
      }
      if (states.every((s) => s === 'ready'))
        return this.claim(
          partners.map((m) => m.plannedSlice()),
          true,
          plan.into,
        );
    }
    return undefined;
  }

  private claim(slices: Slice<M>[], replay: boolean, into: EventInsertTable): Batch<M> {
    slices.sort(byPartition);
    for (const slice of slices) this.busy.add(slice.partition);
    return { topic: this.topic, slices, replay, into, dedupToken: dedupToken(this.topic, slices) };
  }
}
