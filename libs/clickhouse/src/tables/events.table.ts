import type { EnrichedEventV1 } from '@tidemark/events';
import type { ClickHouse } from '../client';

export const EVENTS_TABLE = 'events';

/**
 * Where inserts of events enter (infra/clickhouse/migrations/009_events_ingest.sql): the columns of
 * `events` with each LowCardinality as a String, stored nothing, passed on to `events` block by
 * block. ClickHouse parses text into a String column several times faster than into a
 * LowCardinality one, and converts a whole block at once.
 */
export const EVENTS_INGEST_TABLE = 'events_ingest';

/**
 * The tables an insert of events may enter by. `events` directly only for a batch planned before
 * `events_ingest` existed: ClickHouse deduplicates a replay only by the path it first took.
 */
export type EventInsertTable = typeof EVENTS_INGEST_TABLE | typeof EVENTS_TABLE;

/** A row of `events` (infra/clickhouse/migrations/001_events.sql): the Kafka message without its version. */
export type EventRow = Omit<EnrichedEventV1, 'v'>;

/**
 * A row as sent to ClickHouse: its values in `EVENT_COLUMNS` order (JSONCompactEachRow), the
 * timestamp in ClickHouse's own text form. Against JSONEachRow objects this saves writing and
 * parsing every column name of every row: inserts of 10,000 events took ~20% less time.
 */
export type EventValues = unknown[];

export const EVENT_COLUMNS = [
  'event_id',
  'site_id',
  'timestamp',
  'name',
  'visitor_id',
  'session_id',
  'hostname',
  'pathname',
  'referrer',
  'referrer_domain',
  'channel',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
  'country',
  'region',
  'city',
  'device',
  'browser',
  'browser_version',
  'os',
  'os_version',
  'screen_width',
  'props',
  'revenue_amount',
  'revenue_currency',
  'engagement_time_ms',
  'scroll_pct',
  'click_x',
  'click_y',
  'link_url',
] as const satisfies readonly (keyof EventRow)[];

const UINT32_MAX = 2 ** 32 - 1;
const UINT64_MAX = 2n ** 64n - 1n;
/** Decimal(18, 4) holds 14 integer digits. */
const REVENUE_LIMIT = 1e14;
const MIN_TIMESTAMP = Date.UTC(1970, 0, 1);
const MAX_TIMESTAMP = Date.UTC(2300, 0, 1);

/**
 * Why a schema-valid event cannot be stored faithfully, or undefined when it can. ClickHouse
 * silently wraps integers that overflow UInt32/UInt64 and rejects a whole insert for one decimal
 * that overflows, so such events are refused before the insert (the consumer dead-letters them)
 * rather than corrupting a row or blocking a partition.
 */
export function unstorableReason(e: EnrichedEventV1): string | undefined {
  if (BigInt(e.visitor_id) > UINT64_MAX) return 'visitor_id exceeds UInt64';
  if (BigInt(e.session_id) > UINT64_MAX) return 'session_id exceeds UInt64';
  if (e.screen_width > UINT32_MAX) return 'screen_width exceeds UInt32';
  if (e.engagement_time_ms > UINT32_MAX) return 'engagement_time_ms exceeds UInt32';
  if (e.revenue_amount !== null && Math.abs(e.revenue_amount) >= REVENUE_LIMIT) {
    return 'revenue_amount exceeds Decimal(18, 4)';
  }
  const ts = Date.parse(e.timestamp);
  if (!(ts >= MIN_TIMESTAMP && ts < MAX_TIMESTAMP)) return 'timestamp outside 1970..2299';
  return undefined;
}

/**
 * The values of an event in `EVENT_COLUMNS` order, the order the insert names the columns in. A
 * column the object lacks is sent as null, which ClickHouse stores as the column's default.
 */
export function toEventValues(e: EventRow): EventValues {
  return EVENT_COLUMNS.map((column) =>
    // `2026-03-06T08:00:00.000Z` -> `2026-03-06 08:00:00.000`: the column is UTC, and this form
    // parses under any `date_time_input_format`.
    column === 'timestamp' ? e.timestamp.slice(0, 23).replace('T', ' ') : e[column],
  );
}

export interface DedupInsertOptions {
  /**
   * Same token, same insert: ClickHouse drops a block whose token it has seen within the table's
   * `non_replicated_deduplication_window`, in `events` and in every materialized view's target.
   * Only along the same path: a block first stored through `events_ingest` and retried into
   * `events` directly (or the other way round) would be stored twice.
   */
  dedupToken: string;
  /** `events_ingest` unless replaying an insert that went into `events` directly. */
  table?: EventInsertTable;
}

/**
 * Inserts rows into `events` (and, through the views, `sessions` and the rollups) once per token.
 * Resolves only once ClickHouse stored them: a retry with the same token after any failure is safe.
 */
export async function insertEvents(
  client: ClickHouse,
  rows: EventValues[],
  { dedupToken, table = EVENTS_INGEST_TABLE }: DedupInsertOptions,
) {
  return client.insert({
    table,
    values: rows,
    columns: [...EVENT_COLUMNS],
    format: 'JSONCompactEachRow',
    clickhouse_settings: {
      insert_deduplicate: 1,
      insert_deduplication_token: dedupToken,
      deduplicate_blocks_in_dependent_materialized_views: 1,
      // The acknowledgement must mean "stored", never "queued".
      async_insert: 0,
      // `sessions_v3` is partitioned by the month in a session id. Ingest's ids hold the visit's
      // start, so a batch touches a month or two; ids made elsewhere may touch many, which is
      // slower to store but must never make a batch impossible to store.
      throw_on_max_partitions_per_insert_block: 0,
    },
  });
}
