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

/** What a verified token says: whom it is about, its own id, and when it expires. */
export interface SignedTokenClaims {
  subject: string;
  id: string;
  expiresAt: Date;
}

/**
 * HS256 JWTs for one audience: the shared mechanism behind session and share tokens. A token of
 * one audience never verifies as the other, so a share token can never act as a session.
 */
export function createSignedTokens(opts: { secret: string; audience: string; ttlSeconds: number }) {
  if (opts.secret.length < MIN_JWT_SECRET_LENGTH) {
    throw new Error(`the JWT secret must be at least ${MIN_JWT_SECRET_LENGTH} characters`);
  }
  const key = new TextEncoder().encode(opts.secret);
  return {
    async issue(subject: string): Promise<{ token: string; expiresAt: Date }> {
      const now = Math.floor(Date.now() / 1000);
      const exp = now + opts.ttlSeconds;
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(ISSUER)
        .setAudience(opts.audience)
        .setSubject(subject)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .sign(key);
      return { token, expiresAt: new Date(exp * 1000) };
    },

    async verify(token: string): Promise<SignedTokenClaims | null> {
      try {
        const { payload } = await jwtVerify(token, key, {
          issuer: ISSUER,
          audience: opts.audience,
          // Pinning the algorithm refuses `alg: none` and key-confusion tricks.
          algorithms: ['HS256'],
          requiredClaims: ['sub', 'exp', 'jti'],
        });
        return { subject: payload.sub!, id: payload.jti!, expiresAt: new Date(payload.exp! * 1000) };
      } catch {
        return null;
      }
    },
  };
}

export function createSessionTokens(opts: { secret: string; ttlHours: number }): SessionTokens {
  const tokens = createSignedTokens({
    secret: opts.secret,
    audience: AUDIENCE,
    ttlSeconds: Math.round(opts.ttlHours * 3600),
  });
  return {
    issue: (userId) => tokens.issue(userId),
    async verify(token) {
      const claims = await tokens.verify(token);
      return claims && { userId: claims.subject, sessionId: claims.id, expiresAt: claims.expiresAt };
    },
  };
}

/** Compact JWS: three base64url parts. Cheap pre-check before any crypto. */
export const looksLikeJwt = (raw: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(raw);
