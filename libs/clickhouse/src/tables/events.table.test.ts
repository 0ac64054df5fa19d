import { describe, expect, it } from 'vitest';
import { RowBinaryWriter } from './row-binary';
import { utcMillis, writeEventRow } from './events.table';

describe('utcMillis', () => {
  it('reads ISO timestamps and ClickHouse text timestamps, the latter as UTC', () => {
    const at = Date.UTC(2026, 2, 6, 8, 0, 0, 123);
    expect(utcMillis('2026-03-06T08:00:00.123Z')).toBe(at);
    expect(utcMillis('2026-03-06 08:00:00.123')).toBe(at);
    expect(utcMillis('2026-03-06T13:45:00.123+05:45')).toBe(at);
    expect(() => utcMillis('yesterday')).toThrow(RangeError);
  });
});

describe('writeEventRow', () => {
  it('writes a missing column as its default: the row of an empty event', () => {
    const w = new RowBinaryWriter();
    writeEventRow(w, {});
    const expected = Object.values({
      'event_id, site_id (nil UUIDs)': '00'.repeat(32),
      'timestamp (epoch)': '00'.repeat(8),
      'name (empty)': '00',
      'visitor_id, session_id': '00'.repeat(16),
      'hostname .. os_version (18 empty strings)': '00'.repeat(18),
      screen_width: '00000000',
      'props (no entries)': '00',
      'revenue_amount (NULL)': '01',
      'revenue_currency (empty)': '00',
      engagement_time_ms: '00000000',
      scroll_pct: '00000000',
      'click_x, click_y (NULL)': '0101',
      'link_url (empty)': '00',
    }).join('');
    expect(Buffer.from(w.bytes()).toString('hex')).toBe(expected);
  });
});
