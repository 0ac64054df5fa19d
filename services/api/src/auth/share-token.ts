import { createSignedTokens } from '@tidemark/auth';

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
  const tokens = createSignedTokens({
    secret: opts.secret,
    audience: AUDIENCE,
    ttlSeconds: opts.ttlSeconds ?? SHARE_TOKEN_TTL_SECONDS,
  });
  return {
    issue: (siteId) => tokens.issue(siteId),
    async verify(token) {
      const claims = await tokens.verify(token);
      return claims && { siteId: claims.subject, tokenId: claims.id };
    },
  };
}
