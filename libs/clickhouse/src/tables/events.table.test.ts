import { describe, expect, it } from 'vitest';
import { EVENT_COLUMNS, toEventValues, type EventRow } from './events.table';

describe('toEventValues', () => {
  it('puts each field under its column, in the order the insert names them', () => {
    // A distinct value per column, so any two columns swapped would show.
    const row = Object.fromEntries(EVENT_COLUMNS.map((c, i) => [c, `${c}-${i}`])) as unknown as EventRow;
    row.timestamp = '2026-03-06T08:00:00.123Z';
    const values = toEventValues(row);
    expect(values).toHaveLength(EVENT_COLUMNS.length);
    expect(values).toEqual(
      EVENT_COLUMNS.map((c) => (c === 'timestamp' ? '2026-03-06 08:00:00.123' : row[c])),
    );
  });

  it('leaves a timestamp already in ClickHouse form as it is', () => {
    const row = { timestamp: '2026-03-06 08:00:00.123' } as EventRow;
    expect(toEventValues(row)[EVENT_COLUMNS.indexOf('timestamp')]).toBe('2026-03-06 08:00:00.123');
  });
});
