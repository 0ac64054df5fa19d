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
    });
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

  it('refuses limits below 1', () => {
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, RATE_LIMIT_PER_IP_PER_MINUTE: '0' })).toThrow(
      /RATE_LIMIT_PER_IP_PER_MINUTE/,
    );
  });
});
