/**
 * Batch boundaries, and why a replayed batch is always the same batch.
 *
 * ClickHouse drops an insert whose `insert_deduplication_token` it has seen recently, in `events`
 * and in every view's target table. A batch stored but not committed (the process died in
 * between) is therefore harmless only if it is stored again under the same token, i.e. as the
 * SAME offset range. kafkajs hands `eachBatch` whatever the fetch returned, so after a restart the
 * natural boundaries differ: [100, 180] was stored, the process died before committing 181, and the
 * next fetch returns [100, 250] - a new token, and 100..180 would be stored twice. Fixed-size
 * batches do not fix it: a short batch cut when the fetch wait ran out ([100, 180] because only 81
 * messages had arrived) is not re-formed once more have arrived.
 *
 * So a range is recorded before it is inserted, where the next reader of the partition looks
 * anyway: the consumer group's committed offset, whose metadata string Kafka keeps with it.
 * For each batch:
 *
 *   1. plan     commit offset = first, metadata = {"plan":{"first","last"}}  (position unchanged)
 *   2. insert   the decodable messages of [first, last], token `<topic>:<partition>:<first>-<last>`
 *   3. notify   enqueue the worker's jobs for the stored events (notifications.ts); their ids come
 *               from the events and the range, so a replay enqueues nothing new
 *   4. dead-letter the others, each to the DLQ topic with its reason
 *   5. commit   offset = last + 1, no metadata
 *
 * Whoever reads the partition next (this process after an error, a restarted one, or another group
 * member after a rebalance) starts at the committed offset. When a plan is attached it waits for,
 * and loads, exactly that range with the same token, whatever the fetches return: ClickHouse drops
 * it if step 2 had finished, stores it if not. Kafka refuses commits from a member that no longer
 * owns the partition (generation check), so a stale owner can neither record a new plan nor move
 * the offset; its late insert of the current plan carries the same token and is dropped as well.
 * Without a plan (the previous batch was committed) boundaries are free: a batch is what one fetch
 * returned for the partition, at most `maxEvents` messages.
 */

export interface OffsetMessage {
  offset: string;
}

export interface Batch<M extends OffsetMessage> {
  topic: string;
  partition: number;
  first: string;
  last: string;
  messages: M[];
  dedupToken: string;
  /** Re-formed from a plan recorded by an earlier attempt, which may already be stored. */
  replay: boolean;
}

interface Plan {
  first: bigint;
  last: bigint;
}

export const dedupToken = (topic: string, partition: number, first: string, last: string) =>
  `${topic}:${partition}:${first}-${last}`;

export const encodePlan = (batch: Pick<Batch<OffsetMessage>, 'first' | 'last'>) =>
  JSON.stringify({ plan: { first: batch.first, last: batch.last } });

/** The plan recorded with `committedOffset`, if it belongs to it; anything else means "no plan". */
export function decodePlan(metadata: string | null | undefined, committedOffset: bigint): Plan | undefined {
  if (!metadata) return undefined;
  try {
    const { plan } = JSON.parse(metadata) as { plan?: { first?: unknown; last?: unknown } };
    if (typeof plan?.first !== 'string' || typeof plan.last !== 'string') return undefined;
    const first = BigInt(plan.first);
    const last = BigInt(plan.last);
    return first === committedOffset && last >= first ? { first, last } : undefined;
  } catch {
    return undefined;
  }
}

/** Committed position of a partition as `admin.fetchOffsets` reports it (`-1`: nothing committed). */
export interface CommittedOffset {
  offset: string;
  metadata: string | null;
}

/**
 * The fetched-but-unloaded messages of one partition and the rule that cuts them into batches.
 * Pure: the caller does the Kafka and ClickHouse work and reports back with `done`.
 */
export class PartitionBatcher<M extends OffsetMessage> {
  private pending: M[] = [];
  /** First offset not covered by a committed batch; undefined while nothing was ever committed. */
  private next: bigint | undefined;
  private plan: Plan | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    committed: CommittedOffset,
    private readonly maxEvents: number,
  ) {
    const offset = BigInt(committed.offset);
    this.next = offset >= 0n ? offset : undefined;
    this.plan = decodePlan(committed.metadata, offset);
  }

  /** Appends fetched messages in offset order; ones already pending or already loaded are ignored. */
  add(messages: readonly M[]): void {
    for (const message of messages) {
      const offset = BigInt(message.offset);
      const tail = this.pending.at(-1);
      const expected = tail ? BigInt(tail.offset) + 1n : this.next;
      if (expected !== undefined && offset < expected) continue;
      this.pending.push(message);
    }
  }

  /** The next batch to load, or undefined until the pending messages can form one. */
  take(): Batch<M> | undefined {
    const head = this.pending[0];
    const tail = this.pending.at(-1);
    if (!head || !tail) return undefined;
    if (this.plan) {
      const { first, last } = this.plan;
      // The planned range was deleted by retention before it could be loaded: nothing to re-form.
      if (BigInt(head.offset) > last) this.plan = undefined;
      else if (BigInt(tail.offset) < last) return undefined;
      else {
        const count = this.pending.findIndex((m) => BigInt(m.offset) > last);
        return this.batch(
          this.pending.slice(0, count < 0 ? undefined : count),
          String(first),
          String(last),
          true,
        );
      }
    }
    const messages = this.pending.slice(0, this.maxEvents);
    return this.batch(messages, head.offset, (messages.at(-1) as M).offset, false);
  }

  /** The batch is stored and its end committed: the next one starts after it. */
  done(batch: Batch<M>): void {
    const last = BigInt(batch.last);
    this.pending = this.pending.filter((m) => BigInt(m.offset) > last);
    this.next = last + 1n;
    this.plan = undefined;
  }

  private batch(messages: M[], first: string, last: string, replay: boolean): Batch<M> {
    const { topic, partition } = this;
    return {
      topic,
      partition,
      first,
      last,
      messages,
      replay,
      dedupToken: dedupToken(topic, partition, first, last),
    };
  }
}
