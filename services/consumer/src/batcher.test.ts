import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignPartitions } from './assigner';
import type { EventInsertTable } from '@tidemark/clickhouse';
import {
  BatchPlanner,
  decodePlan,
  encodePlan,
  MAX_PARTITIONS_PER_BATCH,
  type Batch,
  type CommittedOffset,
  type Range,
} from './batcher';

type Message = { offset: string };
const messages = (from: number, to: number): Message[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ offset: String(from + i) }));
const nothingCommitted: CommittedOffset = { offset: '-1', metadata: null };
const planned = (
  ranges: Range[],
  partition: number,
  into: EventInsertTable = 'events_ingest',
): CommittedOffset => ({
  offset: (ranges.find((r) => r.partition === partition) as Range).first,
  metadata: encodePlan(ranges, partition, into),
});
const shape = (batch: Batch<Message> | undefined) =>
  batch && {
    token: batch.dedupToken,
    replay: batch.replay,
    into: batch.into,
    slices: batch.slices.map((s) => [s.partition, s.first, s.last, s.messages.length]),
  };

describe('BatchPlanner', () => {
  it('puts the pending messages of several partitions in one batch, at most maxEvents, with a token naming the ranges', () => {
    const planner = new BatchPlanner<Message>('events', 25);
    planner.open(3, nothingCommitted).add(messages(10, 19));
    planner.open(1, nothingCommitted).add(messages(0, 19));
    const first = planner.take();
    expect(shape(first)).toEqual({
      token: 'events:1:0-19,3:10-14',
      replay: false,
      into: 'events_ingest',
      slices: [
        [1, '0', '19', 20],
        [3, '10', '14', 5],
      ],
    });
    // Both partitions are being loaded: nothing more of theirs until that batch is done.
    expect(planner.take()).toBeUndefined();
    planner.done(first as Batch<Message>);
    expect(shape(planner.take())?.slices).toEqual([[3, '15', '19', 5]]);
  });

  it('keeps a one-partition token as it was before batches spanned partitions', () => {
    const planner = new BatchPlanner<Message>('events', 100);
    planner.open(3, nothingCommitted).add(messages(10, 13));
    expect(planner.take()?.dedupToken).toBe('events:3:10-13');
  });

  it('loads other partitions while one is being loaded, and gives a released batch back', () => {
    const planner = new BatchPlanner<Message>('events', 10);
    planner.open(0, nothingCommitted).add(messages(0, 9));
    planner.open(1, nothingCommitted).add(messages(0, 9));
    const a = planner.take() as Batch<Message>;
    const b = planner.take() as Batch<Message>;
    expect([a.slices[0]?.partition, b.slices[0]?.partition].sort()).toEqual([0, 1]);
    expect(planner.take()).toBeUndefined();
    planner.release(a);
    expect(shape(planner.take())).toEqual(shape(a));
  });

  it('forms a batch only of at least minEvents when asked, leaving a smaller one to grow', () => {
    const planner = new BatchPlanner<Message>('events', 10);
    planner.open(0, nothingCommitted).add(messages(0, 3));
    planner.open(1, nothingCommitted).add(messages(0, 2));
    expect(planner.take({ minEvents: 8 })).toBeUndefined();
    planner.get(1)!.add(messages(3, 4));
    const enough = planner.take({ minEvents: 8 });
    expect(enough?.slices.reduce((n, s) => n + s.messages.length, 0)).toBe(9);
    planner.done(enough!);
    planner.get(0)!.add(messages(4, 13));
    // Past maxEvents, a full batch is enough.
    expect(planner.take({ minEvents: 1_000 })?.slices.flatMap((s) => s.messages)).toHaveLength(10);
  });

  it('counts a batch at the partition cap as big enough', () => {
    const planner = new BatchPlanner<Message>('events', 1_000_000);
    for (let p = 0; p <= MAX_PARTITIONS_PER_BATCH; p++) planner.open(p, nothingCommitted).add(messages(0, 0));
    expect(planner.take({ minEvents: 1_000_000 })?.slices).toHaveLength(MAX_PARTITIONS_PER_BATCH);
    expect(planner.take({ minEvents: 1_000_000 })).toBeUndefined();
  });

  it('weighs what it holds until a batch is done, loading included, and nothing after a clear', () => {
    type Sized = Message & { size: number };
    const sized = (from: number, to: number): Sized[] => messages(from, to).map((m) => ({ ...m, size: 10 }));
    const planner = new BatchPlanner<Sized>('events', 15, (m) => m.size);
    planner.open(0, nothingCommitted).add(sized(0, 9));
    planner.open(1, nothingCommitted).add(sized(0, 9));
    // Added twice: counted once.
    planner.get(0)?.add(sized(5, 14));
    expect(planner.held).toBe(250);
    const first = planner.take() as Batch<Sized>;
    expect(planner.held).toBe(250);
    planner.release(first);
    expect(planner.held).toBe(250);
    const again = planner.take() as Batch<Sized>;
    planner.done(again);
    expect(planner.held).toBe(250 - 10 * again.slices.reduce((n, s) => n + s.messages.length, 0));
    planner.clear();
    expect(planner.held).toBe(0);
  });

  it('ignores messages it already holds or that were already committed', () => {
    const planner = new BatchPlanner<Message>('events', 100);
    const batcher = planner.open(0, { offset: '5', metadata: null });
    batcher.add(messages(3, 7));
    batcher.add(messages(6, 9));
    expect(planner.take()?.slices[0]?.messages.map((m) => m.offset)).toEqual(['5', '6', '7', '8', '9']);
  });

  it('re-forms a one-partition plan exactly, waiting for the rest of it and leaving what follows', () => {
    const planner = new BatchPlanner<Message>('events', 10_000);
    const batcher = planner.open(1, planned([{ partition: 1, first: '100', last: '180' }], 1));
    batcher.add(messages(100, 150));
    expect(planner.take()).toBeUndefined();
    batcher.add(messages(151, 250));
    const replay = planner.take() as Batch<Message>;
    expect(shape(replay)).toEqual({
      token: 'events:1:100-180',
      replay: true,
      into: 'events_ingest',
      slices: [[1, '100', '180', 81]],
    });
    planner.done(replay);
    expect(shape(planner.take())).toMatchObject({ replay: false, slices: [[1, '181', '250', 70]] });
  });

  it('replays a plan of the release before events_ingest into events, the way it was first inserted', () => {
    const planner = new BatchPlanner<Message>('events', 10_000);
    planner
      .open(1, { offset: '100', metadata: '{"plan":{"first":"100","last":"180"}}' })
      .add(messages(100, 250));
    const replay = planner.take() as Batch<Message>;
    expect(shape(replay)).toMatchObject({ token: 'events:1:100-180', replay: true, into: 'events' });
    planner.done(replay);
    expect(shape(planner.take())).toMatchObject({ replay: false, into: 'events_ingest' });
  });

  it('does not replay a plan whose partitions disagree on its table', () => {
    const ranges = [
      { partition: 0, first: '0', last: '4' },
      { partition: 1, first: '0', last: '4' },
    ];
    const planner = new BatchPlanner<Message>('events', 10_000);
    planner.open(0, planned(ranges, 0, 'events')).add(messages(0, 9));
    planner.open(1, planned(ranges, 1, 'events_ingest')).add(messages(0, 9));
    expect(shape(planner.take())).toMatchObject({
      replay: false,
      slices: [
        [0, '0', '9', 10],
        [1, '0', '9', 10],
      ],
    });
  });

  it('re-forms a plan over several partitions once all of them are here and fetched, loading the others meanwhile', () => {
    const ranges = [
      { partition: 2, first: '40', last: '49' },
      { partition: 5, first: '0', last: '3' },
    ];
    const planner = new BatchPlanner<Message>('events', 10_000);
    planner.open(5, planned(ranges, 5)).add(messages(0, 8));
    planner.open(7, nothingCommitted).add(messages(0, 1));
    // Partition 2 is not here yet: only partition 7 can be loaded.
    const free = planner.take() as Batch<Message>;
    expect(shape(free)?.slices).toEqual([[7, '0', '1', 2]]);
    planner.done(free);
    const two = planner.open(2, planned(ranges, 2));
    two.add(messages(40, 45));
    expect(planner.take()).toBeUndefined();
    two.add(messages(46, 60));
    const replay = planner.take() as Batch<Message>;
    expect(shape(replay)).toEqual({
      token: 'events:2:40-49,5:0-3',
      replay: true,
      into: 'events_ingest',
      slices: [
        [2, '40', '49', 10],
        [5, '0', '3', 4],
      ],
    });
    planner.done(replay);
    expect(shape(planner.take())?.slices).toEqual([
      [2, '50', '60', 11],
      [5, '4', '8', 5],
    ]);
  });

  it('keeps a planned range larger than maxEvents whole', () => {
    const planner = new BatchPlanner<Message>('events', 10);
    planner.open(0, planned([{ partition: 0, first: '0', last: '49' }], 0)).add(messages(0, 60));
    expect(planner.take()?.slices[0]?.messages).toHaveLength(50);
  });

  it('drops a plan, for all its partitions, once retention deleted one of its ranges', () => {
    const ranges = [
      { partition: 0, first: '0', last: '49' },
      { partition: 1, first: '10', last: '12' },
    ];
    const planner = new BatchPlanner<Message>('events', 100);
    planner.open(0, planned(ranges, 0)).add(messages(70, 75));
    planner.open(1, planned(ranges, 1)).add(messages(10, 15));
    expect(shape(planner.take())).toEqual({
      token: 'events:0:70-75,1:10-15',
      replay: false,
      into: 'events_ingest',
      slices: [
        [0, '70', '75', 6],
        [1, '10', '15', 6],
      ],
    });
  });

  it('caps a batch at the partitions whose plans fit in Kafka offset metadata', () => {
    const planner = new BatchPlanner<Message>('events', 1_000_000);
    for (let p = 0; p < MAX_PARTITIONS_PER_BATCH + 6; p++)
      planner.open(p, nothingCommitted).add(messages(0, 2));
    const batch = planner.take() as Batch<Message>;
    expect(batch.slices).toHaveLength(MAX_PARTITIONS_PER_BATCH);
    expect(encodePlan(batch.slices, batch.slices[0]!.partition, batch.into).length).toBeLessThan(4096);
    expect(planner.take()?.slices).toHaveLength(6);
  });
});

describe('encodePlan and decodePlan', () => {
  it('round-trip a batch over several partitions, read from any of them', () => {
    const ranges = [
      { partition: 0, first: '7', last: '9' },
      { partition: 4, first: '100', last: '100' },
    ];
    expect(decodePlan(encodePlan(ranges, 0, 'events_ingest'), 7n, 0)).toEqual({
      ranges,
      into: 'events_ingest',
    });
    expect(decodePlan(encodePlan(ranges, 4, 'events_ingest'), 100n, 4)).toEqual({
      ranges,
      into: 'events_ingest',
    });
  });

  it('reads a plan without a table as one of the release before events_ingest, inserted into events', () => {
    const legacy = '{"plan":{"first":"7","last":"9"},"with":[[3,"5","6"]]}';
    const ranges = [
      { partition: 2, first: '7', last: '9' },
      { partition: 3, first: '5', last: '6' },
    ];
    expect(decodePlan(legacy, 7n, 2)).toEqual({ ranges, into: 'events' });
    // Replayed, it is recorded again as that release recorded it.
    expect(encodePlan(ranges, 2, 'events')).toBe(legacy);
    expect(decodePlan('{"plan":{"first":"7","last":"9"},"into":"events_v9"}', 7n, 2)).toBeUndefined();
  });

  it('accepts only a plan that starts at the committed offset', () => {
    const metadata = encodePlan([{ partition: 2, first: '7', last: '9' }], 2, 'events_ingest');
    expect(metadata).toBe('{"plan":{"first":"7","last":"9"},"into":"events_ingest"}');
    expect(decodePlan(metadata, 7n, 2)).toEqual({
      ranges: [{ partition: 2, first: '7', last: '9' }],
      into: 'events_ingest',
    });
    expect(decodePlan(metadata, 8n, 2)).toBeUndefined();
    expect(decodePlan(null, 7n, 2)).toBeUndefined();
    expect(decodePlan('', 7n, 2)).toBeUndefined();
    expect(decodePlan('not json', 7n, 2)).toBeUndefined();
    expect(decodePlan('{"plan":{"first":"7","last":"6"}}', 7n, 2)).toBeUndefined();
    expect(decodePlan('{"plan":{"first":7,"last":9}}', 7n, 2)).toBeUndefined();
    expect(decodePlan('{"plan":{"first":"7","last":"9"},"with":[[3,"1"]]}', 7n, 2)).toBeUndefined();
    expect(decodePlan('{"plan":{"first":"7","last":"9"},"with":[[2,"1","4"]]}', 7n, 2)).toBeUndefined();
    expect(decodePlan('{"plan":{"first":"7","last":"9"},"with":[[3,"5","4"]]}', 7n, 2)).toBeUndefined();
  });
});

/**
 * The consumer protocol of event-loader.ts against a model of Kafka (committed offsets with
 * metadata, one commit request written whole) and ClickHouse (tokens remembered per insert path, a
 * repeated token on the same path dropped), with fetches of random sizes, crashes at every step,
 * the first batches made as the release before `events_ingest` made them (into `events`), and
 * after each crash a group of a random size assigned by the group's assigner: every offset must end
 * up stored exactly once.
 */
describe('exactly once across crashes and rebalances', () => {
  type Step = 'before-plan' | 'after-plan' | 'after-insert' | 'none';
  const steps: Step[] = ['before-plan', 'after-plan', 'after-insert', 'none'];

  it('stores every offset once whatever the fetch sizes, crash points and group sizes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.constantFrom(...steps), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 0, max: 6 }),
        (logLengths, maxEvents, fetchSizes, crashes, groupSizes, legacyBatches) => {
          const partitions = logLengths.map((_, p) => p);
          const committed = partitions.map((): CommittedOffset => nothingCommitted);
          const stored = new Map<string, string[]>();
          let fetchIndex = 0;
          let crashIndex = 0;
          let freeBatches = 0;
          const nextCrash = () => (crashIndex < crashes.length ? crashes[crashIndex++] : 'none');
          const position = (p: number) => Math.max(0, Number((committed[p] as CommittedOffset).offset));
          const finished = () => partitions.every((p) => position(p) === logLengths[p]);
          const pendingPlans = () =>
            partitions
              .map((p) => decodePlan(committed[p]?.metadata, BigInt(committed[p]!.offset), p))
              .filter((plan) => plan !== undefined && plan.ranges.length > 1)
              .map((plan) => plan!.ranges.map((r) => r.partition));

          for (let generation = 0; generation < 1_000 && !finished(); generation++) {
            const members = Array.from(
              { length: groupSizes[generation % groupSizes.length] as number },
              (_, i) => `m${i}`,
            );
            const assignment = assignPartitions(members, partitions, pendingPlans());
            for (const owned of assignment.values()) {
              const planner = new BatchPlanner<Message>('t', maxEvents);
              const fetched = new Map(owned.map((p) => [p, position(p)]));
              const batchers = owned.map((p) => planner.open(p, committed[p] as CommittedOffset));
              let crashed = false;
              for (
                let round = 0;
                round < 1_000 && !crashed && owned.some((p) => position(p) < (logLengths[p] as number));
                round++
              ) {
                owned.forEach((p, i) => {
                  const size = fetchSizes[fetchIndex++ % fetchSizes.length] as number;
                  const from = fetched.get(p) as number;
                  const to = Math.min(logLengths[p] as number, from + size);
                  batchers[i]?.add(messages(from, to - 1));
                  fetched.set(p, to);
                });
                for (let batch = planner.take(); batch && !crashed; batch = planner.take()) {
                  const crash = nextCrash();
                  if (crash === 'before-plan') {
                    crashed = true;
                    break;
                  }
                  if (!batch.replay && freeBatches++ < legacyBatches) batch.into = 'events';
                  for (const s of batch.slices)
                    committed[s.partition] = {
                      offset: s.first,
                      metadata: encodePlan(batch.slices, s.partition, batch.into),
                    };
                  if (crash === 'after-plan') {
                    crashed = true;
                    break;
                  }
                  const content = batch.slices.flatMap((s) =>
                    s.messages.map((m) => `${s.partition}/${m.offset}`),
                  );
                  const key = `${batch.into} ${batch.dedupToken}`;
                  const earlier = stored.get(key);
                  if (earlier) expect(earlier).toEqual(content);
                  else stored.set(key, content);
                  if (crash === 'after-insert') {
                    crashed = true;
                    break;
                  }
                  for (const s of batch.slices)
                    committed[s.partition] = { offset: String(BigInt(s.last) + 1n), metadata: null };
                  planner.done(batch);
                }
              }
            }
          }

          expect(finished()).toBe(true);
          const all = [...stored.values()].flat().sort();
          const expected = partitions
            .flatMap((p) => messages(0, (logLengths[p] as number) - 1).map((m) => `${p}/${m.offset}`))
            .sort();
          expect(all).toEqual(expected);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('assignPartitions', () => {
  it('is round-robin when no plan is pending, whatever the member order', () => {
    const assignment = assignPartitions(['b', 'a', 'c'], [0, 1, 2, 3, 4, 5, 6], []);
    expect(Object.fromEntries(assignment)).toEqual({ a: [0, 3, 6], b: [1, 4], c: [2, 5] });
    expect(assignPartitions(['c', 'a', 'b'], [6, 5, 4, 3, 2, 1, 0], [])).toEqual(assignment);
  });

  it('gives the partitions of each pending plan to one member, and every partition to exactly one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 45 }), { minLength: 2, maxLength: 6 }), { maxLength: 5 }),
        (memberCount, partitionCount, plans) => {
          const members = Array.from({ length: memberCount }, (_, i) => `member-${i}`);
          const partitions = Array.from({ length: partitionCount }, (_, p) => p);
          const assignment = assignPartitions(members, partitions, plans);
          const owner = new Map<number, string>();
          for (const [member, owned] of assignment)
            for (const p of owned) {
              expect(owner.has(p)).toBe(false);
              owner.set(p, member);
            }
          expect([...owner.keys()].sort((a, b) => a - b)).toEqual(partitions);
          for (const plan of plans) {
            const owners = new Set(plan.filter((p) => p < partitionCount).map((p) => owner.get(p)));
            expect(owners.size).toBeLessThanOrEqual(1);
          }
        },
      ),
    );
  });
});
