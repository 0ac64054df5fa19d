import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';

const ISSUER = 'tidemark';
const AUDIENCE = 'tidemark-api';

/** HS256 wants a key at least as long as its output; a shorter secret is an operator mistake. */
export const MIN_JWT_SECRET_LENGTH = 32;

export interface SessionClaims {
  userId: string;
  sessionId: string;
  expiresAt: Date;
}

export interface SessionTokens {
  issue(userId: string): Promise<{ token: string; expiresAt: Date }>;
  /** The claims of a valid, unexpired session token; null for anything else. */
  verify(token: string): Promise<SessionClaims | null>;
}

export function createSessionTokens(opts: { secret: string; ttlHours: number }): SessionTokens {
  if (opts.secret.length < MIN_JWT_SECRET_LENGTH) {
    throw new Error(`the JWT secret must be at least ${MIN_JWT_SECRET_LENGTH} characters`);
  }
  const key = new TextEncoder().encode(opts.secret);
  const ttlSeconds = Math.round(opts.ttlHours * 3600);

  return {
    async issue(userId) {
      const now = Math.floor(Date.now() / 1000);
      const exp = now + ttlSeconds;
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(userId)
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
          // Pinning the algorithm refuses `alg: none` and key-confusion tricks.
          algorithms: ['HS256'],
          requiredClaims: ['sub', 'exp', 'jti'],
        });
        return { userId: payload.sub!, sessionId: payload.jti!, expiresAt: new Date(payload.exp! * 1000) };
      } catch {
        return null;
      }
    },
  };
}

/** Compact JWS: three base64url parts. Cheap pre-check before any crypto. */
export const looksLikeJwt = (raw: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(raw);
