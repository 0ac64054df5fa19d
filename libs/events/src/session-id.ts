/**
 * The layout of `session_id`: the second the visit began (Unix seconds, 32 bits) in the high half,
 * `low` (random, or a hash every ingest replica agrees on) in the low half. Stats read `sessions_v3`
 * by id ranges of a period and the table is partitioned by the month in the id, so every producer of
 * session ids must use this layout.
 */
export function sessionIdAt(start: Date, low: number): string {
  const seconds = BigInt(Math.floor(start.getTime() / 1000)) & 0xffff_ffffn;
  return ((seconds << 32n) | BigInt(low >>> 0)).toString();
}
