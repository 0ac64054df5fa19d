import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createSessionTokens, looksLikeJwt } from './session';

const secret = 'x'.repeat(40);
const userId = '6f1c1a4e-2b7e-4d1a-9f3c-0b1d2e3f4a5b';

describe('session tokens', () => {
  it('issues a JWT that verifies to its user until it expires', async () => {
    const sessions = createSessionTokens({ secret, ttlHours: 2 });
    const { token, expiresAt } = await sessions.issue(userId);
    expect(looksLikeJwt(token)).toBe(true);
    expect(expiresAt.getTime() - Date.now()).toBeGreaterThan(2 * 3600_000 - 5_000);
    const claims = await sessions.verify(token);
    expect(claims).toMatchObject({ userId, expiresAt });
  });

  it('refuses expired tokens, other keys, tampering and alg=none', async () => {
    const sessions = createSessionTokens({ secret, ttlHours: 1 });
    const key = new TextEncoder().encode(secret);
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('tidemark')
      .setAudience('tidemark-api')
      .setSubject(userId)
      .setJti('j')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(key);
    expect(await sessions.verify(expired)).toBeNull();

    const other = createSessionTokens({ secret: 'y'.repeat(40), ttlHours: 1 });
    const foreign = (await other.issue(userId)).token;
    expect(await sessions.verify(foreign)).toBeNull();

    const { token } = await sessions.issue(userId);
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...payload, sub: 'someone-else' })).toString('base64url');
    expect(await sessions.verify(`${h}.${forged}.${s}`)).toBeNull();

    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    expect(await sessions.verify(`${none}.${p}.`)).toBeNull();
    expect(await sessions.verify('not-a-jwt')).toBeNull();
  });

  it('refuses a short secret', () => {
    expect(() => createSessionTokens({ secret: 'short', ttlHours: 1 })).toThrow(/at least 32/);
  });
});
