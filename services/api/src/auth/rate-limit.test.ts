import { setImmediate as nextTurn } from 'node:timers/promises';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { describe, expect, it, vi } from 'vitest';
import { TurnCoalescer } from './rate-limit';

const outcome = (p: Promise<RateLimiterRes>) =>
  p.then(
    (res) => ({ ok: true, remaining: res.remainingPoints, consumed: res.consumedPoints }),
    (err: unknown) =>
      err instanceof RateLimiterRes
        ? { ok: false, remaining: err.remainingPoints, consumed: err.consumedPoints }
        : { error: (err as Error).message },
  );

describe('TurnCoalescer', () => {
  it('consumes a turn of one key in one store call, answering each as if consumed one by one', async () => {
    const limiter = new RateLimiterMemory({ points: 3, duration: 60 });
    const store = vi.spyOn(limiter, 'consume');
    const turns = new TurnCoalescer(limiter);
    const answers = await Promise.all(Array.from({ length: 5 }, () => outcome(turns.consume('k'))));
    expect(store).toHaveBeenCalledTimes(1);
    expect(store).toHaveBeenCalledWith('k', 5);
    expect(answers).toEqual([
      { ok: true, remaining: 2, consumed: 1 },
      { ok: true, remaining: 1, consumed: 2 },
      { ok: true, remaining: 0, consumed: 3 },
      { ok: false, remaining: 0, consumed: 4 },
      { ok: false, remaining: 0, consumed: 5 },
    ]);
  });

  it('counts on from earlier turns, and keeps keys apart', async () => {
    const limiter = new RateLimiterMemory({ points: 4, duration: 60 });
    const store = vi.spyOn(limiter, 'consume');
    const turns = new TurnCoalescer(limiter);
    const first = await Promise.all([outcome(turns.consume('a')), outcome(turns.consume('a'))]);
    await nextTurn();
    const second = await Promise.all([
      outcome(turns.consume('a')),
      outcome(turns.consume('b')),
      outcome(turns.consume('a')),
      outcome(turns.consume('a')),
    ]);
    expect(first.map((a) => a.consumed)).toEqual([1, 2]);
    expect(second).toEqual([
      { ok: true, remaining: 1, consumed: 3 },
      { ok: true, remaining: 3, consumed: 1 },
      { ok: true, remaining: 0, consumed: 4 },
      { ok: false, remaining: 0, consumed: 5 },
    ]);
    expect(store.mock.calls).toEqual([
      ['a', 2],
      ['a', 3],
      ['b', 1],
    ]);
  });

  it('fails every consume of a batch when the store fails', async () => {
    const limiter = new RateLimiterMemory({ points: 3, duration: 60 });
    vi.spyOn(limiter, 'consume').mockRejectedValueOnce(new Error('store down'));
    const turns = new TurnCoalescer(limiter);
    const answers = await Promise.all([outcome(turns.consume('k')), outcome(turns.consume('k'))]);
    expect(answers).toEqual([{ error: 'store down' }, { error: 'store down' }]);
    expect(await outcome(turns.consume('k'))).toEqual({ ok: true, remaining: 2, consumed: 1 });
  });
});
