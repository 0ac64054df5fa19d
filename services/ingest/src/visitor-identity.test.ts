import { describe, expect, it } from 'vitest';
import { newSessionId } from './visitor-identity';

describe('newSessionId', () => {
  it('carries the start second in its high 32 bits, so ids sort by start', () => {
    const at = new Date('2026-03-01T10:00:00.250Z');
    const id = BigInt(newSessionId(at));
    expect(Number(id >> 32n)).toBe(Math.floor(at.getTime() / 1000));
    const later = BigInt(newSessionId(new Date(at.getTime() + 1000)));
    expect(later > id).toBe(true);
  });

  it('differs between two sessions starting in the same second', () => {
    const at = new Date('2026-03-01T10:00:00Z');
    const ids = new Set(Array.from({ length: 50 }, () => newSessionId(at)));
    expect(ids.size).toBe(50);
  });
});
