import { describe, expect, it } from 'vitest';
import { wholeUtcMonths } from './scope';

const at = (iso: string) => new Date(iso);

describe('wholeUtcMonths', () => {
  it('lists the UTC months that start and end inside the period', () => {
    // Berlin's 2025-12-07 .. 2026-12-06: December 2025 and 2026 are cut, the rest is whole.
    expect(wholeUtcMonths(at('2025-12-06T23:00:00Z'), at('2026-12-06T23:00:00Z'))).toEqual([
      '202601',
      '202602',
      '202603',
      '202604',
      '202605',
      '202606',
      '202607',
      '202608',
      '202609',
      '202610',
      '202611',
    ]);
  });

  it('takes a month whose bounds are the period’s bounds', () => {
    expect(wholeUtcMonths(at('2026-02-01T00:00:00Z'), at('2026-03-01T00:00:00Z'))).toEqual(['202602']);
    expect(wholeUtcMonths(at('2025-11-01T00:00:00Z'), at('2026-02-01T00:00:00Z'))).toEqual([
      '202511',
      '202512',
      '202601',
    ]);
  });

  it('lists none when a month is cut on either side, even by a quarter of an hour', () => {
    // A local month in a zone east of UTC starts before the UTC month and ends before its end.
    expect(wholeUtcMonths(at('2026-01-31T23:00:00Z'), at('2026-02-28T23:00:00Z'))).toEqual([]);
    expect(wholeUtcMonths(at('2026-02-01T00:15:00Z'), at('2026-03-01T00:00:00Z'))).toEqual([]);
    expect(wholeUtcMonths(at('2026-02-01T00:00:00Z'), at('2026-02-28T23:45:00Z'))).toEqual([]);
    expect(wholeUtcMonths(at('2026-02-10T00:00:00Z'), at('2026-02-11T00:00:00Z'))).toEqual([]);
  });
});
