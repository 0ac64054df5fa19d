import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';

const ISSUER = 'tidemark';
/** Not the sessions' audience: a share token is never accepted as a session, nor the reverse. */
const AUDIENCE = 'tidemark-share';

/** Short: a public page asks for a new one when it expires, and a leaked one soon stops working. */
export const SHARE_TOKEN_TTL_SECONDS = 30 * 60;

export interface ShareClaims {
  siteId: string;
  tokenId: string;
}

/**
 * Tokens of public dashboards: `stats:read` on one site whose `public_stats` is on. Stateless (a
 * JWT signed with the sessions' secret), so any api replica verifies them; the auth plugin checks
 * on every request that the site is still public.
 */
export interface ShareTokens {
  issue(siteId: string): Promise<{ token: string; expiresAt: Date }>;
  /** The claims of a valid, unexpired share token; null for anything else. */
  verify(token: string): Promise<ShareClaims | null>;
}

export function createShareTokens(opts: { secret: string; ttlSeconds?: number }): ShareTokens {
  const key = new TextEncoder().encode(opts.secret);
  const ttlSeconds = opts.ttlSeconds ?? SHARE_TOKEN_TTL_SECONDS;
  return {
    async issue(siteId) {
      const now = Math.floor(Date.now() / 1000);
      const exp = now + ttlSeconds;
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(siteId)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .sign(key);
      return { token, expiresAt: new Date(exp * 1000) };
    },

    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key, {
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: ['HS256'],
          requiredClaims: ['sub', 'exp', 'jti'],
        });
        return { siteId: payload.sub!, tokenId: payload.jti! };
      } catch {
        return null;
      }
    },
  };
}
