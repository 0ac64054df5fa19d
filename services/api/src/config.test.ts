import { ConfigError } from '@tidemark/config';
import { describe, expect, it } from 'vitest';
import { loadApiConfig } from './config';

const SECRET = 's'.repeat(32);

describe('api config', () => {
  it('has the documented defaults', () => {
    const config = loadApiConfig({ JWT_SECRET: SECRET });
    expect(config).toMatchObject({
      PORT: 3000,
      SESSION_TTL_HOURS: 24,
      SIGNUP_OPEN: true,
      RATE_LIMIT_PER_TOKEN_PER_HOUR: 600,
      RATE_LIMIT_PER_IP_PER_MINUTE: 60,
      TRUST_PROXY: false,
      REDIS_PREFIX: 'tidemark',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: false,
      RAW_RETENTION_DAYS: 90,
      STATS_QUERY_TIMEOUT_SECONDS: 10,
      STATS_EXPORT_TIMEOUT_SECONDS: 1800,
    });
  });

  it('takes fractions of seconds for the stats timeouts, and nothing down to zero', () => {
    const timeout = (value: string) =>
      loadApiConfig({ JWT_SECRET: SECRET, STATS_QUERY_TIMEOUT_SECONDS: value }).STATS_QUERY_TIMEOUT_SECONDS;
    expect(timeout('0.5')).toBe(0.5);
    expect(() => timeout('0')).toThrow(/STATS_QUERY_TIMEOUT_SECONDS/);
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, RAW_RETENTION_DAYS: '0' })).toThrow(
      /RAW_RETENTION_DAYS/,
    );
  });

  it('requires a JWT secret of at least 32 characters', () => {
    expect(() => loadApiConfig({})).toThrow(ConfigError);
    expect(() => loadApiConfig({})).toThrow(/JWT_SECRET: is required/);
    expect(() => loadApiConfig({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET: must be at least 32/);
  });

  it('reads booleans the way operators write them', () => {
    expect(loadApiConfig({ JWT_SECRET: SECRET, SIGNUP_OPEN: 'false' }).SIGNUP_OPEN).toBe(false);
    expect(loadApiConfig({ JWT_SECRET: SECRET, SIGNUP_OPEN: '0' }).SIGNUP_OPEN).toBe(false);
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, SIGNUP_OPEN: 'maybe' })).toThrow(/SIGNUP_OPEN/);
  });

  it.each([
    ['true', true],
    ['false', false],
    ['', false],
    ['2', 2],
    ['10.0.0.0/8, 192.168.1.1', ['10.0.0.0/8', '192.168.1.1']],
  ])('parses TRUST_PROXY=%j', (value, expected) => {
    expect(loadApiConfig({ JWT_SECRET: SECRET, TRUST_PROXY: value }).TRUST_PROXY).toEqual(expected);
  });

  it('refuses a TRUST_PROXY that is not a proxy address', () => {
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, TRUST_PROXY: 'loadbalancer.local' })).toThrow(
      /TRUST_PROXY/,
    );
  });

  it('takes the public ingest origin for the tracker snippet, without a trailing slash', () => {
    expect(loadApiConfig({ JWT_SECRET: SECRET }).PUBLIC_INGEST_URL).toBe('http://127.0.0.1:3001');
    const config = loadApiConfig({ JWT_SECRET: SECRET, PUBLIC_INGEST_URL: 'https://t.example.com/' });
    expect(config.PUBLIC_INGEST_URL).toBe('https://t.example.com');
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, PUBLIC_INGEST_URL: 'not a url' })).toThrow(
      /PUBLIC_INGEST_URL/,
    );
  });

  it('refuses limits below 1', () => {
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, RATE_LIMIT_PER_IP_PER_MINUTE: '0' })).toThrow(
      /RATE_LIMIT_PER_IP_PER_MINUTE/,
    );
  });
});
