import { Readable } from 'node:stream';
import type { EnrichedEventV1 } from '@tidemark/events';
import type { ClickHouse } from '../client';
import { decimalUnits, RowBinaryWriter } from './row-binary';

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

/** The columns of an events insert, in the order its RowBinary rows hold them. */
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
const UINT64_MAX = String(2n ** 64n - 1n);
/** A string of 1-20 digits: shorter than the maximum, or as long and not after it in digit order. */
const fitsUInt64 = (digits: string) =>
  digits.length < UINT64_MAX.length || (digits.length === UINT64_MAX.length && digits <= UINT64_MAX);
/** Decimal(18, 4) holds 14 integer digits. */
const REVENUE_LIMIT = 1e14;
const REVENUE_SCALE = 4;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const MIN_TIMESTAMP = Date.UTC(1970, 0, 1);
const MAX_TIMESTAMP = Date.UTC(2300, 0, 1);

/**
 * Why a schema-valid event cannot be stored faithfully, or undefined when it can. ClickHouse
 * silently wraps integers that overflow UInt32/UInt64 and rejects a whole insert for one decimal
 * that overflows, so such events are refused before the insert (the consumer dead-letters them)
 * rather than corrupting a row or blocking a partition.
 */
export function unstorableReason(e: EnrichedEventV1): string | undefined {
  if (!fitsUInt64(e.visitor_id)) return 'visitor_id exceeds UInt64';
  if (!fitsUInt64(e.session_id)) return 'session_id exceeds UInt64';
  if (e.screen_width > UINT32_MAX) return 'screen_width exceeds UInt32';
  if (e.engagement_time_ms > UINT32_MAX) return 'engagement_time_ms exceeds UInt32';
  if (e.revenue_amount !== null && Math.abs(e.revenue_amount) >= REVENUE_LIMIT) {
    return 'revenue_amount exceeds Decimal(18, 4)';
  }
  const ts = Date.parse(e.timestamp);
  if (!(ts >= MIN_TIMESTAMP && ts < MAX_TIMESTAMP)) return 'timestamp outside 1970..2299';
  return undefined;
}

const ZONED = /(?:Z|[+-]\d\d:?\d\d)$/i;

/**
 * Milliseconds since the epoch of an ISO timestamp (events carry `...T08:00:00.123Z`), or of one in
 * ClickHouse's text form (`2026-03-06 08:00:00.123`), which is UTC as the column is.
 */
export function utcMillis(timestamp: string): number {
  // What events carry, `2026-03-06T08:00:00.123Z`, needs no rewriting.
  const iso = timestamp.length === 24 && timestamp.endsWith('Z') ? timestamp : timestamp.replace(' ', 'T');
  const ms = Date.parse(ZONED.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(ms)) throw new RangeError(`not a timestamp: ${timestamp}`);
  return ms;
}

/**
 * One event as a RowBinary row of `EVENT_COLUMNS`. A column the object lacks is written as the
 * column's default (empty, zero, NULL), as ClickHouse stores an omitted column.
 */
export function writeEventRow(w: RowBinaryWriter, e: Partial<EventRow>): void {
  w.uuid(e.event_id ?? NIL_UUID);
  w.uuid(e.site_id ?? NIL_UUID);
  w.int64FromNumber(e.timestamp === undefined ? 0 : utcMillis(e.timestamp));
  w.string(e.name ?? '');
  w.uint64(e.visitor_id ?? '0');
  w.uint64(e.session_id ?? '0');
  w.string(e.hostname ?? '');
  w.string(e.pathname ?? '');
  w.string(e.referrer ?? '');
  w.string(e.referrer_domain ?? '');
  w.string(e.channel ?? '');
  w.string(e.utm_source ?? '');
  w.string(e.utm_medium ?? '');
  w.string(e.utm_campaign ?? '');
  w.string(e.utm_content ?? '');
  w.string(e.utm_term ?? '');
  w.string(e.country ?? '');
  w.string(e.region ?? '');
  w.string(e.city ?? '');
  w.string(e.device ?? '');
  w.string(e.browser ?? '');
  w.string(e.browser_version ?? '');
  w.string(e.os ?? '');
  w.string(e.os_version ?? '');
  w.uint32(e.screen_width ?? 0);
  w.mapOfStrings(e.props ?? {});
  if (w.present(e.revenue_amount)) w.int64(decimalUnits(e.revenue_amount!, REVENUE_SCALE));
  w.string(e.revenue_currency ?? '');
  w.uint32(e.engagement_time_ms ?? 0);
  w.float32(e.scroll_pct ?? 0);
  if (w.present(e.click_x)) w.float32(e.click_x!);
  if (w.present(e.click_y)) w.float32(e.click_y!);
  w.string(e.link_url ?? '');
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

/** Inserts events; see `insertEventRows`. */
export async function insertEvents(
  client: ClickHouse,
  events: readonly Partial<EventRow>[],
  opts: DedupInsertOptions,
): Promise<void> {
  const rows = new RowBinaryWriter(events.length * 256);
  for (const e of events) writeEventRow(rows, e);
  await insertEventRows(client, rows.bytes(), opts);
}

/**
 * Inserts RowBinary rows written by `writeEventRow` into `events` (and, through the views,
 * `sessions` and the rollups) once per token. Resolves only once ClickHouse stored them: a retry
 * with the same token after any failure is safe.
 */
export async function insertEventRows(
  client: ClickHouse,
  rows: Uint8Array,
  { dedupToken, table = EVENTS_INGEST_TABLE }: DedupInsertOptions,
): Promise<void> {
  if (rows.length === 0) return;
  const { stream } = await client.exec({
    query: `INSERT INTO ${table} (${EVENT_COLUMNS.join(', ')}) FORMAT RowBinary`,
    values: Readable.from([rows]),
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
      parallel_view_processing: 1,
    },
  });
  // The answer is empty; reading it to the end frees the connection for the next request.
  for await (const _ of stream) void _;
}
