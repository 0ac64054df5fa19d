import type { SummaryCatalog, SummaryKind } from '@tidemark/clickhouse';
import { describe, expect, it } from 'vitest';
import { dayPieces, monthPieces } from './scope';
import {
  joinRanges,
  monthsTouched,
  planAttributeReads,
  planDayReads,
  planSiteReads,
  planVisitReads,
  uncovered,
  type SummaryRead,
} from './summary-plan';

const at = (iso: string) => new Date(iso);
/** A catalog holding a build named `kind:month` for each of `builds`. */
const catalogOf = (...builds: string[]): SummaryCatalog => ({
  build: (kind: SummaryKind, month: string) =>
    builds.includes(`${kind}:${month}`) ? `${kind}:${month}` : undefined,
});
const show = (reads: SummaryRead[]) =>
  reads.map(
    (r) =>
      `${r.buildId}/${r.fromDay} ${r.from.toISOString().slice(0, 10)}..${r.to.toISOString().slice(0, 10)}`,
  );
// Berlin's 12 months to 2026-12-06: December 2025 from the 7th, then January to November 2026.
const YEAR = monthPieces(at('2025-12-06T23:00:00Z'), at('2026-12-06T23:00:00Z'));
const months = (kind: SummaryKind, year: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${kind}:${year}${String(from + i).padStart(2, '0')}`);

describe('planSiteReads', () => {
  it('reads the rest of the first month and January to the last whole month as two rows', () => {
    const catalog = catalogOf(
      ...months('site_month', '2025', 12, 12),
      ...months('site_month', '2026', 1, 11),
      ...months('site_year_prefix', '2026', 2, 11),
    );
    expect(show(planSiteReads(YEAR, catalog))).toEqual([
      'site_month:202512/7 2025-12-07..2026-01-01',
      'site_year_prefix:202611/1 2026-01-01..2026-12-01',
    ]);
  });

  it('takes the longest valid prefix, then month rows, and leaves months without a build out', () => {
    const catalog = catalogOf(
      ...months('site_month', '2026', 1, 9),
      'site_month:202611',
      'site_year_prefix:202606',
      'site_year_prefix:202603',
    );
    expect(show(planSiteReads(YEAR, catalog))).toEqual([
      'site_year_prefix:202606/1 2026-01-01..2026-07-01',
      'site_month:202607/1 2026-07-01..2026-08-01',
      'site_month:202608/1 2026-08-01..2026-09-01',
      'site_month:202609/1 2026-09-01..2026-10-01',
      'site_month:202611/1 2026-11-01..2026-12-01',
    ]);
  });

  it('reads month rows for whole months that do not start at January', () => {
    const pieces = monthPieces(at('2026-03-01T00:00:00Z'), at('2026-05-01T00:00:00Z'));
    const catalog = catalogOf('site_month:202603', 'site_month:202604', 'site_year_prefix:202604');
    expect(show(planSiteReads(pieces, catalog))).toEqual([
      'site_month:202603/1 2026-03-01..2026-04-01',
      'site_month:202604/1 2026-04-01..2026-05-01',
    ]);
  });

  it('reads nothing without builds', () => {
    expect(planSiteReads(YEAR, catalogOf())).toEqual([]);
  });
});

describe('planVisitReads', () => {
  it('reads a month row per piece that has a build, from the piece’s day', () => {
    const catalog = catalogOf('sessions_month:202512', 'sessions_month:202603');
    expect(show(planVisitReads(YEAR, catalog))).toEqual([
      'sessions_month:202512/7 2025-12-07..2026-01-01',
      'sessions_month:202603/1 2026-03-01..2026-04-01',
    ]);
  });
});

describe('monthsTouched and joinRanges', () => {
  it('lists every month a stretch touches', () => {
    expect(monthsTouched(at('2025-11-30T23:00:00Z'), at('2026-01-01T00:00:01Z'))).toEqual([
      '202511',
      '202512',
      '202601',
    ]);
    expect(monthsTouched(at('2026-01-01T00:00:00Z'), at('2026-02-01T00:00:00Z'))).toEqual(['202601']);
  });

  it('joins touching ranges and keeps gaps', () => {
    const r = (from: string, to: string) => ({ from: at(from), to: at(to) });
    const joined = joinRanges([
      r('2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z'),
      r('2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z'),
      r('2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z'),
    ]);
    expect(
      joined.map((x) => `${x.from.toISOString().slice(0, 10)}..${x.to.toISOString().slice(0, 10)}`),
    ).toEqual(['2026-01-01..2026-04-01', '2026-05-01..2026-06-01']);
  });
});

describe('planDayReads', () => {
  // Berlin's 30 days to 2026-12-06: 2026-11-06T23:00Z .. 2026-12-06T23:00Z.
  const THIRTY = dayPieces(at('2026-11-06T23:00:00Z'), at('2026-12-06T23:00:00Z'));

  it('reads the whole UTC days of each month that has a valid build of its kind', () => {
    expect(show(planDayReads('country_month', THIRTY, catalogOf('country_month:202611')))).toEqual([
      'country_month:202611/7 2026-11-07..2026-12-01',
    ]);
    // A local month off UTC: every whole UTC day of it, not only to the month's end.
    const november = dayPieces(at('2026-10-31T23:00:00Z'), at('2026-11-30T23:00:00Z'));
    expect(show(planDayReads('country_month', november, catalogOf('country_month:202611')))).toEqual([
      'country_month:202611/1 2026-11-01..2026-11-30',
    ]);
    const year = dayPieces(at('2025-12-06T23:00:00Z'), at('2026-12-06T23:00:00Z'));
    expect(
      show(planDayReads('country_month', year, catalogOf('country_month:202512', 'country_month:202606'))),
    ).toEqual([
      'country_month:202512/7 2025-12-07..2026-01-01',
      'country_month:202606/1 2026-06-01..2026-07-01',
    ]);
    expect(planDayReads('country_month', THIRTY, catalogOf('site_month:202611'))).toEqual([]);
  });

  it('reads nothing for under a week of summarized days, or without builds', () => {
    // Seven local days from 2026-11-30: one whole UTC day in November.
    const week = dayPieces(at('2026-11-29T23:00:00Z'), at('2026-12-06T23:00:00Z'));
    expect(planDayReads('country_month', week, catalogOf('country_month:202611'))).toEqual([]);
    expect(planDayReads('country_month', THIRTY, catalogOf('country_month:202612'))).toEqual([]);
    expect(planDayReads('country_month', THIRTY, catalogOf())).toEqual([]);
  });
});

describe('planAttributeReads', () => {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const ranges = (rs: ReadonlyArray<{ from: Date; to: Date }>) =>
    rs.map((r) => `${day(r.from)}..${day(r.to)}`);
  const start = at('2025-12-06T23:00:00Z');
  const end = at('2026-12-06T23:00:00Z');

  it('covers the whole UTC days of built months, and names the partitions without a build', () => {
    const catalog = catalogOf(
      ...months('visit_attributes_month', '2025', 12, 12),
      ...months('visit_attributes_month', '2026', 1, 11),
    );
    const reads = planAttributeReads(start, end, catalog)!;
    expect(ranges(reads.covered)).toEqual(['2025-12-07..2026-12-01']);
    expect([...reads.builds.keys()]).toEqual(
      months('visit_attributes_month', '2025', 12, 12)
        .concat(months('visit_attributes_month', '2026', 1, 11))
        .map((b) => b.split(':')[1]),
    );
    // The period's visits may have ids from a day before it to a day after it: December 2026 too.
    expect(ranges(reads.unbuilt)).toEqual(['2026-12-01..2027-01-01']);
    // A month without a build in the middle is a gap in the covered days.
    const holey = planAttributeReads(
      start,
      end,
      catalogOf(
        ...months('visit_attributes_month', '2026', 1, 5),
        ...months('visit_attributes_month', '2026', 7, 11),
      ),
    )!;
    expect(ranges(holey.covered)).toEqual(['2026-01-01..2026-06-01', '2026-07-01..2026-12-01']);
    expect(ranges(holey.unbuilt)).toEqual([
      '2025-12-01..2026-01-01',
      '2026-06-01..2026-07-01',
      '2026-12-01..2027-01-01',
    ]);
  });

  it('is undefined for under a week of covered days', () => {
    expect(
      planAttributeReads(at('2026-11-29T23:00:00Z'), end, catalogOf('visit_attributes_month:202611')),
    ).toBeUndefined();
    expect(planAttributeReads(start, end, catalogOf())).toBeUndefined();
    // Plain values ask for more: 30 days of November (24 covered) are not enough for 60.
    const november = catalogOf('visit_attributes_month:202611');
    expect(planAttributeReads(at('2026-11-06T23:00:00Z'), end, november)).toBeDefined();
    expect(planAttributeReads(at('2026-11-06T23:00:00Z'), end, november, 60)).toBeUndefined();
  });
});

describe('uncovered', () => {
  it('is the period less the covered ranges', () => {
    const gaps = uncovered(at('2026-01-01T00:00:00Z'), at('2026-01-31T00:00:00Z'), [
      { from: at('2025-12-01T00:00:00Z'), to: at('2026-01-05T00:00:00Z') },
      { from: at('2026-01-10T00:00:00Z'), to: at('2026-01-20T00:00:00Z') },
    ]);
    expect(gaps.map((g) => `${g.from.toISOString()}..${g.to.toISOString()}`)).toEqual([
      '2026-01-05T00:00:00.000Z..2026-01-10T00:00:00.000Z',
      '2026-01-20T00:00:00.000Z..2026-01-31T00:00:00.000Z',
    ]);
    expect(uncovered(at('2026-01-01T00:00:00Z'), at('2026-01-02T00:00:00Z'), [])).toHaveLength(1);
    expect(
      uncovered(at('2026-01-02T00:00:00Z'), at('2026-01-03T00:00:00Z'), [
        { from: at('2026-01-01T00:00:00Z'), to: at('2026-01-04T00:00:00Z') },
      ]),
    ).toEqual([]);
  });
});

describe('dayPieces', () => {
  const pieces = (start: string, end: string) =>
    dayPieces(at(start), at(end)).map(
      (p) => `${p.partition} ${p.from.toISOString().slice(0, 10)}..${p.to.toISOString().slice(0, 10)}`,
    );

  it('splits the whole UTC days of a period by month', () => {
    expect(pieces('2026-11-06T23:00:00Z', '2026-12-06T23:00:00Z')).toEqual([
      '202611 2026-11-07..2026-12-01',
      '202612 2026-12-01..2026-12-06',
    ]);
    // Kathmandu (+05:45): local midnights at 18:15 UTC.
    expect(pieces('2026-02-27T18:15:00Z', '2026-03-02T18:15:00Z')).toEqual([
      '202602 2026-02-28..2026-03-01',
      '202603 2026-03-01..2026-03-02',
    ]);
    expect(pieces('2026-03-01T00:00:00Z', '2026-03-03T00:00:00Z')).toEqual(['202603 2026-03-01..2026-03-03']);
  });

  it('has none when no UTC day fits whole', () => {
    expect(pieces('2026-03-04T23:00:00Z', '2026-03-05T23:00:00Z')).toEqual([]);
    expect(pieces('2026-03-05T00:00:00Z', '2026-03-05T23:45:00Z')).toEqual([]);
  });
});
