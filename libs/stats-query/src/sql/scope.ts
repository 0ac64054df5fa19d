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
  ) {
    this.site = this.p.bind(siteId, 'UUID');
    this.goals = goals ?? [];
  }

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

  get endMargin(): string {
    return this.#once('endMargin', () =>
      this.p.instant(new Date(this.#period().endUtc.getTime() + RAW_SESSION_MARGIN_MS)),
    );
  }
}
