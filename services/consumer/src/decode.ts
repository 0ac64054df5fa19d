import { unstorableReason, writeEventRow, type RowBinaryWriter } from '@tidemark/clickhouse';
import { parseEnrichedEventV1, type EnrichedEventV1 } from '@tidemark/events';

export type DeadLetterReason = 'empty' | 'invalid_json' | 'invalid_event' | 'unstorable';

/** Every message ends in one of these, never in a thrown error: a poison message cannot stop a partition. */
export type Decoded =
  { kind: 'ok'; event: EnrichedEventV1 } | { kind: 'dead_letter'; reason: DeadLetterReason; detail: string };

const MAX_DETAIL = 1_000;

const deadLetter = (reason: DeadLetterReason, detail: string): Decoded => ({
  kind: 'dead_letter',
  reason,
  detail: detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL - 1)}…` : detail,
});

export function decodeEvent(value: Buffer | null): Decoded {
  if (value === null || value.length === 0) return deadLetter('empty', 'message has no value');
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return deadLetter('invalid_json', (err as Error).message);
  }
  const parsed = parseEnrichedEventV1(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`);
    return deadLetter('invalid_event', issues.join('; '));
  }
  const unstorable = unstorableReason(parsed.data);
  if (unstorable) return deadLetter('unstorable', unstorable);
  return { kind: 'ok', event: parsed.data };
}

/**
 * Decodes a message and appends its event's row to `rows`. A row the writer refuses (which the
 * checks above are meant to rule out) is taken back and dead-lettered: one event must never make
 * a batch impossible to insert, which would hold its partitions for ever.
 */
export function decodeInto(rows: RowBinaryWriter, value: Buffer | null): Decoded {
  const decoded = decodeEvent(value);
  if (decoded.kind !== 'ok') return decoded;
  const start = rows.length;
  try {
    writeEventRow(rows, decoded.event);
    return decoded;
  } catch (err) {
    rows.truncate(start);
    return deadLetter('unstorable', (err as Error).message);
  }
}
