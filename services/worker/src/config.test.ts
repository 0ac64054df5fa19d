import { ConfigError } from '@tidemark/config';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config';

describe('worker config', () => {
  it('defaults to the contract: retry schedule, 5 days before disabling, 10 s timeout, no private targets', () => {
    const config = loadConfig({});
    expect(config.WEBHOOK_RETRY_SCHEDULE).toEqual([
      5e3, 300e3, 1_800e3, 7_200e3, 18_000e3, 36_000e3, 36_000e3,
    ]);
    expect(config.WEBHOOK_DISABLE_AFTER).toBe(5 * 86_400_000);
    expect(config.WEBHOOK_TIMEOUT).toBe(10_000);
    expect(config.WEBHOOK_ALLOW_PRIVATE_TARGETS).toBe(false);
    expect(config.WORKER_LOCK_DURATION).toBe(30_000);
    expect(config.WORKER_STALLED_INTERVAL).toBe(15_000);
  });

  it('reads durations and flags from the environment', () => {
    const config = loadConfig({
      WEBHOOK_RETRY_SCHEDULE: '100ms,200ms',
      WEBHOOK_DISABLE_AFTER: '2s',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      WORKER_CONCURRENCY_WEBHOOK_DELIVERY: '3',
    });
    expect(config.WEBHOOK_RETRY_SCHEDULE).toEqual([100, 200]);
    expect(config.WEBHOOK_DISABLE_AFTER).toBe(2_000);
    expect(config.WEBHOOK_ALLOW_PRIVATE_TARGETS).toBe(true);
    expect(config.WORKER_CONCURRENCY_WEBHOOK_DELIVERY).toBe(3);
  });

  it('names each invalid variable', () => {
    const problems = (env: NodeJS.ProcessEnv) => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problems({ WEBHOOK_RETRY_SCHEDULE: ',', WEBHOOK_DISABLE_AFTER: '5' })).toEqual([
      'WEBHOOK_RETRY_SCHEDULE: must list at least one duration',
      'WEBHOOK_DISABLE_AFTER: "5" is not a duration (a number and one of ms, s, m, h, d)',
    ]);
    expect(problems({ WORKER_LOCK_DURATION: '5s', WORKER_STALLED_INTERVAL: '10s' })).toEqual([
      'WORKER_STALLED_INTERVAL: must not exceed WORKER_LOCK_DURATION',
    ]);
  });
});
