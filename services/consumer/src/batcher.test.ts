import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePlan, encodePlan, PartitionBatcher, type Batch, type CommittedOffset } from './batcher';

const messages = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ offset: String(from + i) }));
const nothingCommitted: CommittedOffset = { offset: '-1', metadata: null };

describe('PartitionBatcher', () => {
  it('cuts what a fetch returned into batches of at most maxEvents, with a token naming the range', () => {
    const batcher = new PartitionBatcher('events', 3, nothingCommitted, 4);
    batcher.add(messages(10, 19));
    const first = batcher.take() as Batch<{ offset: string }>;
    expect(first).toMatchObject({ first: '10', last: '13', replay: false, dedupToken: 'events:3:10-13' });
    expect(first.messages).toHaveLength(4);
    expect(batcher.take()?.first).toBe('10');
    batcher.done(first);
    expect(batcher.take()).toMatchObject({ first: '14', last: '17' });
  });

  it('ignores messages it already holds or that were already committed', () => {
    const batcher = new PartitionBatcher('events', 0, { offset: '5', metadata: null }, 100);
    batcher.add(messages(3, 7));
    batcher.add(messages(6, 9));
    const batch = batcher.take();
    expect(batch?.messages.map((m) => m.offset)).toEqual(['5', '6', '7', '8', '9']);
  });

  it('re-forms a planned range exactly, waiting for the rest of it and leaving what follows', () => {
    const committed = { offset: '100', metadata: encodePlan({ first: '100', last: '180' }) };
    const batcher = new PartitionBatcher('events', 1, committed, 10_000);
    batcher.add(messages(100, 150));
    expect(batcher.take()).toBeUndefined();
    batcher.add(messages(151, 250));
    const replay = batcher.take() as Batch<{ offset: string }>;
    expect(replay).toMatchObject({ first: '100', last: '180', replay: true, dedupToken: 'events:1:100-180' });
    expect(replay.messages).toHaveLength(81);
    batcher.done(replay);
    expect(batcher.take()).toMatchObject({ first: '181', last: '250', replay: false });
  });

  it('keeps a planned range larger than maxEvents whole', () => {
    const committed = { offset: '0', metadata: encodePlan({ first: '0', last: '49' }) };
    const batcher = new PartitionBatcher('events', 0, committed, 10);
    batcher.add(messages(0, 60));
    expect(batcher.take()?.messages).toHaveLength(50);
  });

  it('drops a plan whose range retention already deleted', () => {
    const committed = { offset: '0', metadata: encodePlan({ first: '0', last: '49' }) };
    const batcher = new PartitionBatcher('events', 0, committed, 10);
    batcher.add(messages(70, 75));
    expect(batcher.take()).toMatchObject({ first: '70', last: '75', replay: false });
  });
});

describe('decodePlan', () => {
  it('accepts only a plan that starts at the committed offset', () => {
    const metadata = encodePlan({ first: '7', last: '9' });
    expect(decodePlan(metadata, 7n)).toEqual({ first: 7n, last: 9n });
    expect(decodePlan(metadata, 8n)).toBeUndefined();
    expect(decodePlan(null, 7n)).toBeUndefined();
    expect(decodePlan('', 7n)).toBeUndefined();
    expect(decodePlan('not json', 7n)).toBeUndefined();
    expect(decodePlan('{"plan":{"first":"7","last":"6"}}', 7n)).toBeUndefined();
    expect(decodePlan('{"plan":{"first":7,"last":9}}', 7n)).toBeUndefined();
  });
});

/**
 * The consumer protocol of event-loader.ts against a model of Kafka (a committed offset with
 * metadata) and ClickHouse (tokens remembered, a repeated token dropped), with fetches of random
 * sizes and crashes at every step: every offset must end up stored exactly once.
 */
describe('exactly once across crashes', () => {
  type Step = 'before-plan' | 'after-plan' | 'after-insert' | 'none';
  const steps: Step[] = ['before-plan', 'after-plan', 'after-insert', 'none'];

  it('stores every offset once whatever the fetch sizes and crash points', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.constantFrom(...steps), { minLength: 1, maxLength: 40 }),
        (logLength, maxEvents, fetchSizes, crashes) => {
          const log = messages(0, logLength - 1);
          let committed: CommittedOffset = nothingCommitted;
          const stored = new Map<string, string[]>();
          let fetchIndex = 0;
          let crashIndex = 0;
          const nextCrash = () => (crashIndex < crashes.length ? crashes[crashIndex++] : 'none');

          for (let restarts = 0; restarts < 1_000; restarts++) {
            const batcher = new PartitionBatcher('t', 0, committed, maxEvents);
            let position = Math.max(0, Number(committed.offset));
            let crashed = false;
            while (!crashed && BigInt(committed.offset) < BigInt(logLength)) {
              const size = fetchSizes[fetchIndex++ % fetchSizes.length] as number;
              batcher.add(log.slice(position, position + size));
              position = Math.min(logLength, position + size);
              for (let batch = batcher.take(); batch && !crashed; batch = batcher.take()) {
                const crash = nextCrash();
                if (crash === 'before-plan') {
                  crashed = true;
                  break;
                }
                committed = { offset: batch.first, metadata: encodePlan(batch) };
                if (crash === 'after-plan') {
                  crashed = true;
                  break;
                }
                const offsets = batch.messages.map((m) => m.offset);
                const earlier = stored.get(batch.dedupToken);
                if (earlier) expect(earlier).toEqual(offsets);
                else stored.set(batch.dedupToken, offsets);
                if (crash === 'after-insert') {
                  crashed = true;
                  break;
                }
                committed = { offset: String(BigInt(batch.last) + 1n), metadata: null };
                batcher.done(batch);
              }
            }
            if (!crashed) break;
          }

          expect(committed.offset).toBe(String(logLength));
          const all = [...stored.values()].flat().map(Number);
          expect(all.sort((a, b) => a - b)).toEqual(log.map((m) => Number(m.offset)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
