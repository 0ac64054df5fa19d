import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDuration, parseDurationList } from './duration';
import { DEFAULT_RETRY_SCHEDULE_MS, nextRetryDelay, parseRetryAfter, withJitter } from './retry';

const s = 1_000;
const m = 60 * s;
const h = 60 * m;

describe('durations', () => {
  it.each([
    ['250ms', 250],
    ['5s', 5 * s],
    ['1.5s', 1_500],
    ['30m', 30 * m],
    ['2h', 2 * h],
    ['5d', 5 * 24 * h],
    [' 10h ', 10 * h],
  ])('%s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['5', '5x', '', '-5s', 's', '5 s'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/not a duration/);
  });

  it('parses comma lists', () => {
    expect(parseDurationList('5s, 5m,,30m')).toEqual([5 * s, 5 * m, 30 * m]);
  });
});

describe('retry schedule', () => {
  it('defaults to the contract: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', () => {
    expect(DEFAULT_RETRY_SCHEDULE_MS).toEqual([5 * s, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 10 * h]);
  });

  it('jitters by ±20% at most', () => {
    expect(withJitter(1_000, () => 0)).toBe(800);
    expect(withJitter(1_000, () => 0.5)).toBe(1_000);
    expect(withJitter(1_000, () => 0.999999)).toBe(1_200);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 36_000_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (ms, r) => {
          const d = withJitter(ms, () => r);
          return d >= Math.floor(ms * 0.8) && d <= Math.ceil(ms * 1.2);
        },
      ),
    );
  });

  it('takes the step of the attempt just made and stops after the last', () => {
    const schedule = [5 * s, 5 * m, 30 * m];
    const middle = () => 0.5;
    expect(nextRetryDelay({ attemptsMade: 1, schedule, random: middle })).toBe(5 * s);
    expect(nextRetryDelay({ attemptsMade: 2, schedule, random: middle })).toBe(5 * m);
    expect(nextRetryDelay({ attemptsMade: 3, schedule, random: middle })).toBe(30 * m);
    expect(nextRetryDelay({ attemptsMade: 4, schedule, random: middle })).toBeNull();
  });

  it('every step of the default schedule stays within its jitter bounds', () => {
    DEFAULT_RETRY_SCHEDULE_MS.forEach((step, i) => {
      for (let k = 0; k < 50; k++) {
        const d = nextRetryDelay({ attemptsMade: i + 1, schedule: DEFAULT_RETRY_SCHEDULE_MS })!;
        expect(d).toBeGreaterThanOrEqual(step * 0.8);
        expect(d).toBeLessThanOrEqual(step * 1.2);
      }
    });
    expect(nextRetryDelay({ attemptsMade: 8, schedule: DEFAULT_RETRY_SCHEDULE_MS })).toBeNull();
  });

  it('honours Retry-After when it asks for later, capped at the longest step', () => {
    const schedule = [5 * s, 5 * m, 30 * m];
    const middle = () => 0.5;
    expect(nextRetryDelay({ attemptsMade: 1, schedule, retryAfterMs: 2 * m, random: middle })).toBe(2 * m);
    // Sooner than the schedule: the schedule wins.
    expect(nextRetryDelay({ attemptsMade: 2, schedule, retryAfterMs: 1 * s, random: middle })).toBe(5 * m);
    // A week: capped at 30 min.
    expect(nextRetryDelay({ attemptsMade: 1, schedule, retryAfterMs: 7 * 24 * h, random: middle })).toBe(
      30 * m,
    );
    // Retry-After does not extend a used-up schedule.
    expect(nextRetryDelay({ attemptsMade: 4, schedule, retryAfterMs: 1 * s })).toBeNull();
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-03-06T08:00:00.000Z');

  it.each([
    ['120', 120_000],
    ['0', 0],
    [' 30 ', 30_000],
    ['Fri, 06 Mar 2026 08:05:00 GMT', 5 * m],
    ['Fri, 06 Mar 2026 07:00:00 GMT', 0],
  ])('%j → %d ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it.each([undefined, '', 'soon', '-5', '1.5'])('%j → null', (value) => {
    expect(parseRetryAfter(value, now)).toBeNull();
  });

  it('takes the first of repeated headers', () => {
    expect(parseRetryAfter(['10', '20'], now)).toBe(10_000);
  });
});
