import { describe, expect, it } from 'vitest';
import { RowBinaryWriter, writeEventRow } from '@tidemark/clickhouse';
import { anEnrichedEvent as event } from '../../../test/support/events';
import { decodeEvent, decodeInto } from './decode';

const encode = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('decodeEvent', () => {
  it('turns a valid message into the event it holds, every field as sent', () => {
    expect(decodeEvent(encode(event))).toEqual({ kind: 'ok', event });
  });

  it.each([
    ['an empty message', null, 'empty'],
    ['an empty buffer', Buffer.alloc(0), 'empty'],
    ['broken JSON', Buffer.from('{"v":1,'), 'invalid_json'],
    ['a JSON array', encode([event]), 'invalid_event'],
    ['another version', encode({ ...event, v: 2 }), 'invalid_event'],
    ['an unknown field', encode({ ...event, ip: '203.0.113.9' }), 'invalid_event'],
    ['a missing field', encode({ ...event, site_id: undefined }), 'invalid_event'],
    ['a visitor id over UInt64', encode({ ...event, visitor_id: '18446744073709551616' }), 'unstorable'],
    ['a session id over UInt64', encode({ ...event, session_id: '99999999999999999999' }), 'unstorable'],
    ['a revenue over Decimal(18, 4)', encode({ ...event, revenue_amount: 1e15 }), 'unstorable'],
    ['a screen width over UInt32', encode({ ...event, screen_width: 2 ** 32 }), 'unstorable'],
    ['a timestamp before 1970', encode({ ...event, timestamp: '1969-12-31T23:59:59.999Z' }), 'unstorable'],
  ])('dead-letters %s', (_what, value, reason) => {
    const decoded = decodeEvent(value);
    expect(decoded).toMatchObject({ kind: 'dead_letter', reason });
    if (decoded.kind === 'dead_letter') expect(decoded.detail.length).toBeGreaterThan(0);
  });

  it('names the failing fields in the detail', () => {
    const decoded = decodeEvent(encode({ ...event, country: 'france', event_id: 'x' }));
    expect(decoded.kind === 'dead_letter' && decoded.detail).toMatch(
      /event_id: .*; country: |country: .*; event_id: /,
    );
  });
});

describe('decodeInto', () => {
  it('appends the row of each valid event and nothing for a dead letter', () => {
    const rows = new RowBinaryWriter();
    expect(decodeInto(rows, encode(event)).kind).toBe('ok');
    expect(decodeInto(rows, encode({ ...event, name: '' })).kind).toBe('dead_letter');
    const expected = new RowBinaryWriter();
    writeEventRow(expected, event);
    expect(Buffer.from(rows.bytes())).toEqual(Buffer.from(expected.bytes()));
  });

  it('dead-letters an event whose row cannot be written, taking back what it wrote of it', () => {
    class RefusesFloats extends RowBinaryWriter {
      override float32(): void {
        throw new RangeError('no Float32 today');
      }
    }
    const rows = new RefusesFloats();
    rows.uint8(7);
    expect(decodeInto(rows, encode(event))).toEqual({
      kind: 'dead_letter',
      reason: 'unstorable',
      detail: 'no Float32 today',
    });
    expect(Buffer.from(rows.bytes())).toEqual(Buffer.from([7]));
  });
});
