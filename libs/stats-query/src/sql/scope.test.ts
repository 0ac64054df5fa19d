import { describe, expect, it } from 'vitest';
import { monthPieces } from './scope';

const at = (iso: string) => new Date(iso);
const pieces = (start: string, end: string) =>
  monthPieces(at(start), at(end)).map((p) => `${p.partition}/${p.fromDay}@${p.from.toISOString()}`);

describe('monthPieces', () => {
  it('takes the rest of the first month from its first whole UTC day, then whole months', () => {
    // Berlin's 2025-12-07 .. 2026-12-06: December 2025 from the 7th, then January to November.
    const year = pieces('2025-12-06T23:00:00Z', '2026-12-06T23:00:00Z');
    expect(year[0]).toBe('202512/7@2025-12-07T00:00:00.000Z');
    expect(year.slice(1)).toEqual(
      ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11'].map(
        (m) => `2026${m}/1@2026-${m}-01T00:00:00.000Z`,
      ),
    );
  });

  it('takes a month whose bounds are the period’s bounds whole', () => {
    expect(pieces('2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z')).toEqual([
      '202602/1@2026-02-01T00:00:00.000Z',
    ]);
    expect(pieces('2025-12-01T00:00:00Z', '2026-02-01T00:00:00Z')).toEqual([
      '202512/1@2025-12-01T00:00:00.000Z',
      '202601/1@2026-01-01T00:00:00.000Z',
    ]);
  });

  it('takes nothing of a month the period ends inside, even by a quarter of an hour', () => {
    // A local month east of UTC: February from its second UTC day, but it ends before March.
    expect(pieces('2026-01-31T23:00:00Z', '2026-02-28T23:00:00Z')).toEqual([]);
    expect(pieces('2026-02-01T00:00:00Z', '2026-02-28T23:45:00Z')).toEqual([]);
    expect(pieces('2026-02-10T00:00:00Z', '2026-02-11T00:00:00Z')).toEqual([]);
    // From a quarter past midnight: the month from its second day.
    expect(pieces('2026-02-01T00:15:00Z', '2026-03-01T00:00:00Z')).toEqual([
      '202602/2@2026-02-02T00:00:00.000Z',
    ]);
  });
});
