import { describe, expect, it } from 'vitest';
import { loadConfig } from './config';
import { fetchLimits } from './event-loader';

const MiB = 1024 * 1024;

describe('fetchLimits', () => {
  it('lets one partition carry a whole batch of ~1 KiB events, within the fetch limit', () => {
    expect(fetchLimits({ maxBatchEvents: 10_000, maxBytes: 50 * MiB })).toEqual({
      maxBytesPerPartition: 10_000 * 1024,
      maxBytes: 50 * MiB,
    });
  });

  it('never lets one partition carry more than FETCH_MAX_BYTES', () => {
    expect(fetchLimits({ maxBatchEvents: 10_000, maxBytes: 4 * MiB })).toEqual({
      maxBytesPerPartition: 4 * MiB,
      maxBytes: 4 * MiB,
    });
  });

  it('keeps at least 1 MiB per partition for small batches, and at most 64 MiB for huge ones', () => {
    expect(fetchLimits({ maxBatchEvents: 10, maxBytes: 50 * MiB }).maxBytesPerPartition).toBe(MiB);
    expect(fetchLimits({ maxBatchEvents: 1_000_000, maxBytes: 1024 * MiB }).maxBytesPerPartition).toBe(
      64 * MiB,
    );
  });
});

describe('FETCH_MAX_BYTES', () => {
  it('defaults to 48 MiB, under the broker default fetch.max.bytes (55 MiB)', () => {
    expect(loadConfig({}).FETCH_MAX_BYTES).toBe(48 * MiB);
  });

  it('refuses a value too small to carry a fetch, naming the variable', () => {
    expect(() => loadConfig({ FETCH_MAX_BYTES: '1000' })).toThrow(/FETCH_MAX_BYTES/);
    expect(() => loadConfig({ FETCH_MAX_BYTES: 'lots' })).toThrow(/FETCH_MAX_BYTES/);
  });
});
