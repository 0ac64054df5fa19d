import { monthPartition, type SummaryCatalog } from '@tidemark/clickhouse';
import { DAY_MS } from '../calendar';
import type { ResolvedPeriod } from '../periods';
import { assertTimeZone, offsetSchedule } from '../timezone';
import { offsetExpr } from './buckets';
import type { GoalDefinition } from './goals';
import { QueryParams } from './query-params';

/**
 * Visits are rebuilt from raw events read this far beyond the period on both sides: before, to
 * see that a visit began earlier (it then belongs to an earlier period); after, to see the rest
 * of a visit that began in the period. A visit longer than this (30 minutes of inactivity end a
 * visit, so only a day of uninterrupted activity, which bot filtering keeps out) would be cut.
 */
export const RAW_SESSION_MARGIN_MS = DAY_MS;

/**
 * Ingest makes a session id from the second its first event arrived (high 32 bits) and 32 random
 * bits, so `sessions`, ordered by (site_id, session_id), can be read for a range of start times
 * instead of the site's whole history. The id's second can differ from the visit's recorded start:
 * earlier by up to the session timeout when ingest ran without Redis (ids are then made from the
 * start of a timeout window), later by the clock skew between ingest replicas. Reading the ids of
 * a day either side of the period covers both; the visit's merged start still decides.
 */
export const SESSION_ID_MARGIN_MS = DAY_MS;

/**
 * `[from, to)` of the seconds a session id may hold for a visit that starts in `[from, to)`: a
 * margin either side, and the whole second at the end.
 */
export function sessionIdWindow(from: Date, to: Date): { from: Date; to: Date } {
  return {
    from: new Date(from.getTime() - SESSION_ID_MARGIN_MS),
    to: new Date(to.getTime() + SESSION_ID_MARGIN_MS + 1000),
  };
}

/** The smallest session id whose visit arrived at `at` or later (whole seconds). */
export function sessionIdFloor(at: number): bigint {
  return BigInt(Math.max(0, Math.floor(at / 1000))) << 32n;
}

/** Whole UTC days of one month inside a period: what a month's summary rows can stand for. */
export interface MonthPiece {
  /** `YYYYMM`, the partition id. */
  partition: string;
  /** Day of the month the piece starts (1: from the month's start). */
  fromDay: number;
  /** `[from, to)`: UTC midnights; `to` is the month's end unless the period ends first. */
  from: Date;
  to: Date;
}

/** The whole UTC days of `[start, end)`, a piece per month they fall in. */
export function dayPieces(start: Date, end: Date): MonthPiece[] {
  const last = Math.floor(end.getTime() / DAY_MS) * DAY_MS;
  const pieces: MonthPiece[] = [];
  let cursor = new Date(Math.ceil(start.getTime() / DAY_MS) * DAY_MS);
  while (cursor.getTime() < last) {
    const to = new Date(Math.min(monthEnd(cursor), last));
    pieces.push({ partition: monthPartition(cursor), fromDay: cursor.getUTCDate(), from: cursor, to });
    cursor = to;
  }
  return pieces;
}

const monthEnd = (at: Date) => Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1);

/**
 * The stretches of `[start, end)` that rest-of-month summary rows can answer: the `dayPieces` that
 * run to their month's end, i.e. from the first UTC midnight at or after `start` to the end of its
 * month (when that month ends inside the period), then every whole UTC month after it.
 */
export function monthPieces(start: Date, end: Date): MonthPiece[] {
  return dayPieces(start, end).filter((piece) => piece.to.getTime() === monthEnd(piece.from));
}

/**
 * Whether closed-month summaries may answer part of a period: it holds a whole UTC day. Realtime,
 * the last 24 hours or a local day off UTC never do, so they need no catalog.
 */
export function periodMayUseSummaries(start: Date, end: Date): boolean {
  return dayPieces(start, end).length > 0;
}

export interface ScopeOptions {
  summaries?: SummaryCatalog;
  rebuildVisits?: boolean;
}

/** A query's scope options from its context. */
export const scopeOptions = (ctx: { summaries?: SummaryCatalog; forceSource?: string }): ScopeOptions => ({
  ...(ctx.summaries ? { summaries: ctx.summaries } : {}),
  rebuildVisits: ctx.forceSource === 'raw',
});

/** One query's parameters and the placeholders every part of it shares. */
export class Scope {
  readonly p = new QueryParams();
  readonly site: string;
  readonly goals: readonly GoalDefinition[];
  #memo = new Map<string, string>();
  #offset?: (column: string) => string;

  constructor(
    siteId: string,
    goals: readonly GoalDefinition[] | undefined,
    private readonly timezone?: string,
    private readonly period?: ResolvedPeriod,
    opts: ScopeOptions = {},
  ) {
    this.site = this.p.bind(siteId, 'UUID');
    this.goals = goals ?? [];
    this.summaries = opts.summaries;
    this.rebuildVisits = opts.rebuildVisits ?? false;
  }

  /** Closed-month summaries a query may read; none without it. */
  readonly summaries?: SummaryCatalog;
  /**
   * Visits of a raw answer rebuilt from raw events, not read from `sessions_v3`: when raw events are
   * forced, so that the answer is independent of every table the views maintain.
   */
  readonly rebuildVisits: boolean;

  #once(name: string, make: () => string): string {
    let placeholder = this.#memo.get(name);
    if (placeholder === undefined) {
      placeholder = make();
      this.#memo.set(name, placeholder);
    }
    return placeholder;
  }

  #period(): ResolvedPeriod {
    if (!this.period) throw new Error('this query has no period');
    return this.period;
  }

  /** The site's UTC offset at an instant column, over the period (see `buckets.offsetExpr`). */
  get offset(): (column: string) => string {
    if (!this.#offset) {
      if (this.timezone === undefined) throw new Error('this query has no timezone');
      assertTimeZone(this.timezone);
      const { startUtc, endUtc } = this.#period();
      this.#offset = offsetExpr(this.p, offsetSchedule(this.timezone, startUtc.getTime(), endUtc.getTime()));
    }
    return this.#offset;
  }

  get start(): string {
    return this.#once('start', () => this.p.instant(this.#period().startUtc));
  }

  get end(): string {
    return this.#once('end', () => this.p.instant(this.#period().endUtc));
  }

  get startMargin(): string {
    return this.#once('startMargin', () =>
      this.p.instant(new Date(this.#period().startUtc.getTime() - RAW_SESSION_MARGIN_MS)),
    );
  }

  /** `[lo, hi]` of the session ids whose visits may start in the period (see SESSION_ID_MARGIN_MS). */
  get sessionIds(): [string, string] {
    const { startUtc, endUtc } = this.#period();
    const ids = sessionIdWindow(startUtc, endUtc);
    const lo = this.#once('sessionIdLo', () =>
      this.p.bind(sessionIdFloor(ids.from.getTime()).toString(), 'UInt64'),
    );
    const hi = this.#once('sessionIdHi', () =>
      this.p.bind((sessionIdFloor(ids.to.getTime()) - 1n).toString(), 'UInt64'),
    );
    return [lo, hi];
  }

  /** The period's `monthPieces`. */
  get monthPieces(): MonthPiece[] {
    const { startUtc, endUtc } = this.#period();
    return monthPieces(startUtc, endUtc);
  }

  /** The period's `dayPieces`. */
  get dayPieces(): MonthPiece[] {
    const { startUtc, endUtc } = this.#period();
    return dayPieces(startUtc, endUtc);
  }

  /** Whether summaries may answer part of the query: a catalog, and `periodMayUseSummaries`. */
  get summarizable(): boolean {
    const { startUtc, endUtc } = this.#period();
    return this.summaries !== undefined && periodMayUseSummaries(startUtc, endUtc);
  }

  /** `[start, end)` of the period: the instants, not their placeholders. */
  get bounds(): [Date, Date] {
    const { startUtc, endUtc } = this.#period();
    return [startUtc, endUtc];
  }

  get endMargin(): string {
    return this.#once('endMargin', () =>
      this.p.instant(new Date(this.#period().endUtc.getTime() + RAW_SESSION_MARGIN_MS)),
    );
  }
}
