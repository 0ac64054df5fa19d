import { describe, expect, it } from 'vitest';
import { loadConfig } from './config';
import { FETCH_REQUEST_MAX_BYTES, fetchLimits } from './event-loader';

const MiB = 1024 * 1024;

describe('fetchLimits', () => {
  it('lets one partition bring a whole batch of ~1 KiB events, within one fetch', () => {
    expect(fetchLimits({ maxBatchEvents: 10_000, maxBytes: 48 * MiB })).toEqual({
      maxBytesPerPartition: 10_000 * 1024,
      maxBytes: 16 * MiB,
    });
  });

  it('asks for at most 16 MiB a fetch, however much the process may hold', () => {
    expect(FETCH_REQUEST_MAX_BYTES).toBe(16 * MiB);
    expect(fetchLimits({ maxBatchEvents: 50_000, maxBytes: 48 * MiB })).toEqual({
      maxBytesPerPartition: 16 * MiB,
      maxBytes: 16 * MiB,
    });
    expect(fetchLimits({ maxBatchEvents: 50_000, maxBytes: 1024 * MiB }).maxBytes).toBe(16 * MiB);
  });

  it('never fetches more than FETCH_MAX_BYTES when it is smaller', () => {
    expect(fetchLimits({ maxBatchEvents: 10_000, maxBytes: 4 * MiB })).toEqual({
      maxBytesPerPartition: 4 * MiB,
      maxBytes: 4 * MiB,
    });
  });

  it('keeps at least 1 MiB per partition for small batches', () => {
    expect(fetchLimits({ maxBatchEvents: 10, maxBytes: 48 * MiB }).maxBytesPerPartition).toBe(MiB);
  });
});

describe('FETCH_MAX_BYTES', () => {
  it('defaults to 48 MiB held: a batch of 50,000 uncompressed events and most of the next', () => {
    expect(loadConfig({}).FETCH_MAX_BYTES).toBe(48 * MiB);
  });

  it('refuses a value too small to carry a fetch, naming the variable', () => {
    expect(() => loadConfig({ FETCH_MAX_BYTES: '1000' })).toThrow(/FETCH_MAX_BYTES/);
    expect(() => loadConfig({ FETCH_MAX_BYTES: 'lots' })).toThrow(/FETCH_MAX_BYTES/);
  });
});
