import type { Readable } from 'node:stream';
import { ClickHouseError, type ClickHouseSettings } from '@clickhouse/client';
import type { ClickHouse } from '@tidemark/clickhouse';
import { ApiError } from '@tidemark/http';
import type { ClickHouseQuery, ResultRow } from '@tidemark/stats-query';
import type { FastifyBaseLogger } from 'fastify';
import { Counter, type Registry } from 'prom-client';

/** ClickHouse's TIMEOUT_EXCEEDED: the query ran past `max_execution_time`. */
const TIMEOUT_EXCEEDED = '159';

/**
 * No JSON answer of the stats endpoints has more rows: a timeseries has at most MAX_BUCKETS
 * (10000), a breakdown page at most MAX_LIMIT (1000). The server stops a query whose final result
 * would grow past it (subqueries are not counted) rather than ship it to be refused here.
 */
const MAX_RESULT_ROWS = 10_001;

/** The HTTP request to ClickHouse gets this long beyond the query's own limit (queueing, transfer). */
const REQUEST_GRACE_MS = 5_000;

/** What `export?type=events` streams: CSV with a header line, or one JSON object per line. */
export type ExportFormat = 'CSVWithNames' | 'JSONEachRow';

export interface StatsReaderOptions {
  clickhouse: ClickHouse;
  queryTimeoutSeconds: number;
  exportTimeoutSeconds: number;
  registry: Registry;
}

/**
 * Runs the stats queries with their guards (`max_execution_time`, `max_result_rows`) and turns
 * ClickHouse failures into the contract's answers: a query over its time limit is 503
 * `unavailable` with Retry-After (API.md has no code for "too expensive"; retrying with a
 * narrower question, or later, is what helps), ClickHouse unreachable is 503 too. Any other
 * ClickHouse error is a bug of ours and stays a 500.
 */
export class StatsReader {
  readonly #clickhouse: ClickHouse;
  readonly #queryTimeout: number;
  readonly #exportTimeout: number;
  readonly #failures: Counter<'reason'>;

  constructor(opts: StatsReaderOptions) {
    this.#clickhouse = opts.clickhouse;
    this.#queryTimeout = opts.queryTimeoutSeconds;
    this.#exportTimeout = opts.exportTimeoutSeconds;
    this.#failures = new Counter({
      name: 'tidemark_api_stats_query_failures_total',
      help: 'Stats queries that answered 503: over max_execution_time (timeout) or ClickHouse unreachable',
      labelNames: ['reason'],
      registers: [opts.registry],
    });
  }

  /** The rows of a query answered as JSON by the api (small by construction). */
  async rows<T = ResultRow>(q: ClickHouseQuery, log: FastifyBaseLogger): Promise<T[]> {
    try {
      const result = await this.#clickhouse.query({
        ...q,
        format: 'JSONEachRow',
        clickhouse_settings: {
          max_execution_time: this.#queryTimeout,
          max_result_rows: String(MAX_RESULT_ROWS),
          result_overflow_mode: 'throw',
        },
        abort_signal: AbortSignal.timeout(this.#queryTimeout * 1000 + REQUEST_GRACE_MS),
      });
      return await result.json<T>();
    } catch (err) {
      throw this.#failure(err, this.#queryTimeout, log);
    }
  }

  /**
   * The result of a query as a stream of rows (arrays of `{text}`, as `ResultSet.stream()` gives
   * them), read from ClickHouse only as fast as the consumer takes them. `signal` stops the query
   * when the client leaves. Failures before the first byte are thrown as for `rows`.
   */
  async stream(
    q: ClickHouseQuery,
    format: ExportFormat,
    signal: AbortSignal,
    log: FastifyBaseLogger,
  ): Promise<Readable> {
    const settings: ClickHouseSettings = {
      max_execution_time: this.#exportTimeout,
      // A sort that outgrows this spills to disk on the server instead of holding the period in memory.
      max_bytes_before_external_sort: String(256 * 2 ** 20),
      // An empty field, as spreadsheets read it, rather than ClickHouse's \N (strings are quoted).
      format_csv_null_representation: '',
    };
    try {
      const result = await this.#clickhouse.query({
        ...q,
        format,
        clickhouse_settings: settings,
        abort_signal: AbortSignal.any([
          signal,
          AbortSignal.timeout(this.#exportTimeout * 1000 + REQUEST_GRACE_MS),
        ]),
      });
      return result.stream();
    } catch (err) {
      throw this.#failure(err, this.#exportTimeout, log);
    }
  }

  #failure(err: unknown, timeoutSeconds: number, log: FastifyBaseLogger): Error {
    if (err instanceof ClickHouseError) {
      if (err.code !== TIMEOUT_EXCEEDED) return err;
      this.#failures.inc({ reason: 'timeout' });
      log.warn({ err: err.message }, 'stats query ran past max_execution_time');
      return ApiError.unavailable(
        `the query took longer than ${timeoutSeconds} s and was stopped; try a shorter period or fewer filters, or retry later`,
        30,
      );
    }
    this.#failures.inc({ reason: 'unavailable' });
    log.warn({ err }, 'ClickHouse did not answer a stats query');
    return ApiError.unavailable('the analytics database is unavailable; retry later', 5);
  }
}
