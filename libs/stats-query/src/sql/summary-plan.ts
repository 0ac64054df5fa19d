import { monthPartition, type SummaryCatalog, type SummaryKind } from '@tidemark/clickhouse';
import { DAY_MS } from '../calendar';
import { dayPieces, sessionIdWindow, type MonthPiece } from './scope';

/** One summary row per site to read instead of the sources, and the stretch of time it holds. */
export interface SummaryRead {
  buildId: string;
  /** The row: from this day of the month (1: the whole month, or a January-to-month prefix). */
  fromDay: number;
  /** `[from, to)`, UTC instants on month or day bounds. */
  from: Date;
  to: Date;
}

/**
 * Which rows of `rollup_site_summary` answer the period's `pieces` (see `monthPieces`): from a
 * January piece on, the longest valid January-to-month prefix of that year; otherwise each piece's
 * month row. A piece without a valid build is left to the 15-minute rows.
 */
export function planSiteReads(pieces: readonly MonthPiece[], catalog: SummaryCatalog): SummaryRead[] {
  const reads: SummaryRead[] = [];
  let i = 0;
  while (i < pieces.length) {
    const piece = pieces[i]!;
    const year = piece.partition.slice(0, 4);
    if (piece.fromDay === 1 && piece.partition === `${year}01`) {
      let last = i;
      while (pieces[last + 1]?.partition.startsWith(year)) last++;
      let prefix: { buildId: string; at: number } | undefined;
      for (let k = last; k > i && !prefix; k--) {
        const buildId = catalog.build('site_year_prefix', pieces[k]!.partition);
        if (buildId) prefix = { buildId, at: k };
      }
      if (prefix) {
        reads.push({
          buildId: prefix.buildId,
          fromDay: 1,
          from: piece.from,
          to: pieces[prefix.at]!.to,
        });
        i = prefix.at + 1;
        continue;
      }
    }
    const buildId = catalog.build('site_month', piece.partition);
    if (buildId) reads.push({ buildId, fromDay: piece.fromDay, from: piece.from, to: piece.to });
    i++;
  }
  return reads;
}

/** Each piece as a read of its month's valid build of `kind`, where there is one. */
const monthReads = (kind: SummaryKind, pieces: readonly MonthPiece[], catalog: SummaryCatalog) =>
  pieces.flatMap((piece): SummaryRead[] => {
    const buildId = catalog.build(kind, piece.partition);
    return buildId ? [{ buildId, fromDay: piece.fromDay, from: piece.from, to: piece.to }] : [];
  });

/** The month rows of `sessions_summary` that answer the period's `pieces`, where valid builds have them. */
export const planVisitReads = (pieces: readonly MonthPiece[], catalog: SummaryCatalog) =>
  monthReads('sessions_month', pieces, catalog);

/**
 * Day rows are worth reading from a week of them on: a second source costs a few milliseconds, and
 * each day saves about one (7 days of a 10-million-event site read 27 ms without, 32 with one day).
 */
const MIN_SUMMARIZED_DAYS = 7;

/** Days in `ranges`. */
export const daysIn = (ranges: ReadonlyArray<{ from: Date; to: Date }>) =>
  ranges.reduce((n, r) => n + (r.to.getTime() - r.from.getTime()) / DAY_MS, 0);

/**
 * The day rows of `rollup_dimensions_summary` that answer the period's `pieces`, where valid builds
 * of `kind` (`country_month`: countries of the location rollup) have them; none when they would
 * hold under `MIN_SUMMARIZED_DAYS`.
 */
export function planDayReads(
  kind: 'country_month',
  pieces: readonly MonthPiece[],
  catalog: SummaryCatalog,
): SummaryRead[] {
  const reads = monthReads(kind, pieces, catalog);
  return daysIn(reads) >= MIN_SUMMARIZED_DAYS ? reads : [];
}

/**
 * A visit's plain values (country, device, ...; see `isVisitorValue`) cost little to read visit by
 * visit from a closed month's single part, so their day rows pay off later: a 30-day breakdown of
 * visits by country took 23 ms with them and 16 without, 12 months 21 ms and 59.
 */
export const MIN_SUMMARIZED_PLAIN_DAYS = 60;

/** What `planAttributeReads` found. */
export interface AttributeReads {
  /** Partition -> build, of the `sessions_v3` partitions the period's visits may be in. */
  builds: Map<string, string>;
  /** The whole UTC days of those partitions' months inside the period. */
  covered: Array<{ from: Date; to: Date }>;
  /** `[from, to)` of each month whose partition the period's visits may be in and has no build. */
  unbuilt: Array<{ from: Date; to: Date }>;
}

/**
 * Which `visit_attributes_month` builds answer the visits of `[start, end)`. A visit of a built
 * partition that starts in a covered day is read from day rows (a build holds its partition's
 * visits by day of start, whichever month that falls in); every other visit, visit by visit.
 * Undefined under `minDays` covered days.
 */
export function planAttributeReads(
  start: Date,
  end: Date,
  catalog: SummaryCatalog,
  minDays = MIN_SUMMARIZED_DAYS,
): AttributeReads | undefined {
  const builds = new Map<string, string>();
  const ids = sessionIdWindow(start, end);
  const touched = monthsTouched(ids.from, ids.to);
  const unbuilt: Array<{ from: Date; to: Date }> = [];
  for (const month of touched) {
    const buildId = catalog.build('visit_attributes_month', month);
    if (buildId) builds.set(month, buildId);
    else {
      const from = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(4)) - 1, 1));
      unbuilt.push({ from, to: new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, 1)) });
    }
  }
  const covered = dayPieces(start, end).filter((piece) => builds.has(piece.partition));
  return daysIn(covered) >= minDays ? { builds, covered: joinRanges(covered), unbuilt } : undefined;
}

/** The parts of `[start, end)` outside `covered` (sorted, disjoint ranges). */
export function uncovered(
  start: Date,
  end: Date,
  covered: ReadonlyArray<{ from: Date; to: Date }>,
): Array<{ from: Date; to: Date }> {
  const gaps: Array<{ from: Date; to: Date }> = [];
  let cursor = start.getTime();
  for (const r of covered) {
    if (r.from.getTime() > cursor)
      gaps.push({ from: new Date(cursor), to: new Date(Math.min(r.from.getTime(), end.getTime())) });
    cursor = Math.max(cursor, r.to.getTime());
  }
  if (cursor < end.getTime()) gaps.push({ from: new Date(cursor), to: end });
  return gaps.filter((g) => g.from.getTime() < g.to.getTime());
}

/** `YYYYMM` of every UTC month that `[from, to)` touches. */
export function monthsTouched(from: Date, to: Date): string[] {
  const months: string[] = [];
  for (
    let at = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), 1));
    at.getTime() < to.getTime();
    at = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1))
  ) {
    months.push(monthPartition(at));
  }
  return months;
}

/** `ranges` sorted, with touching ones joined: fewer conditions for the same rows. */
export function joinRanges(ranges: ReadonlyArray<{ from: Date; to: Date }>): Array<{ from: Date; to: Date }> {
  const sorted = [...ranges].sort((a, b) => a.from.getTime() - b.from.getTime());
  const joined: Array<{ from: Date; to: Date }> = [];
  for (const r of sorted) {
    const last = joined.at(-1);
    if (last && last.to.getTime() >= r.from.getTime()) {
      if (r.to.getTime() > last.to.getTime()) last.to = r.to;
    } else joined.push({ from: r.from, to: r.to });
  }
  return joined;
}
