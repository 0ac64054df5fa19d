import {
  ALL_PERMISSIONS,
  isPermission,
  looksLikeJwt,
  parseToken,
  secretMatches,
  type ParsedToken,
  type Permission,
  type SessionTokens,
} from '@tidemark/auth';
import type { Pool } from '@tidemark/db';
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { SiteLookups } from '../sites/site-lookup-cache';
import { invalidToken, missingToken, type Principal } from './principal';
import type { PrincipalCache } from './principal-cache';
import type { RateLimits } from './rate-limit';
import type { ShareTokens } from './share-token';
import { resolveSiteAccess, type SiteAccess, type SiteAccessOptions } from './site-access';
import type { TokenUsageRecorder } from './token-usage';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authenticate`; null on routes that do not authenticate. */
    principal: Principal | null;
    /** Set by `requireSiteAccess`. */
    siteAccess: SiteAccess | null;
  }
  interface FastifyContextConfig {
    /** Set by `authenticateRoutes`: the route's limits are applied by `authenticate`. */
    authenticated?: boolean;
  }
  interface FastifyInstance {
    /**
     * onRequest hook: resolves the bearer token to a principal (401 otherwise) and applies the
     * per-token limit, and the per-IP limit unless the token is one this process already knows.
     */
    authenticate: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /**
     * Makes every route registered after it in this plugin authenticate, and marks them so the
     * `/api/v1` per-IP hook leaves them to `authenticate` (see `countsAgainstIp`).
     */
    authenticateRoutes: () => void;
    resolveSiteAccess: (
      req: FastifyRequest,
      ref: string | undefined,
      permission: Permission,
      opts?: SiteAccessOptions,
    ) => Promise<SiteAccess>;
  }
}

export interface AuthPluginOptions {
  pool: Pool;
  sessions: SessionTokens;
  rateLimits: RateLimits;
  usage: TokenUsageRecorder;
  shares: ShareTokens;
  cache: PrincipalCache;
  /** Site lookups of routes that only read (see `resolveSiteAccess`). */
  siteLookups: SiteLookups;
}

/** A principal as read from PostgreSQL, with the expiry the cache must keep honouring. */
interface Resolved {
  principal: Principal;
  expiresAt: Date | null;
}

/**
 * The token from `Authorization: Bearer <token>`. Any other place (query string, cookie) is ignored
 * on purpose: tokens in URLs end up in logs and browser history. Another scheme counts as no token.
 */
function bearerToken(header: string | undefined): string | null {
  if (!header || !/^bearer(\s|$)/i.test(header)) return null;
  const token = header.slice(6).trim();
  if (!token) return null;
  if (/\s/.test(token)) throw invalidToken('the Authorization header must be "Bearer <token>"');
  return token;
}

function wellFormedBearerToken(header: string | undefined): string | null {
  try {
    return bearerToken(header);
  } catch {
    return null;
  }
}

/**
 * Whether a request counts against the per-IP limit of `/api/v1` (RATE_LIMIT_PER_IP_PER_MINUTE) in
 * the scope's onRequest hook. Routes that authenticate count there only when their token is not one
 * the process already resolved (`authenticate` decides): an authenticated caller is held to its
 * token's budget, and users behind one address (an office, a NAT) do not share 60 requests a
 * minute between every dashboard they have open.
 */
export const countsAgainstIp = (req: FastifyRequest) => req.routeOptions.config.authenticated !== true;

const isExpired = (expiresAt: Date | null) => expiresAt !== null && expiresAt.getTime() <= Date.now();

export const authPlugin = fp<AuthPluginOptions>(
  async (app, { pool, sessions, rateLimits, usage, shares, cache, siteLookups }) => {
    async function accountToken(parsed: ParsedToken): Promise<Resolved | null> {
      const { rows } = await pool.query<{
        id: string;
        permissions: string[];
        site_ids: string[] | null;
        secret_hash: Buffer;
        expires_at: Date | null;
        user_id: string;
        account_id: string;
        email: string;
        name: string | null;
      }>({
        name: 'auth-account-token',
        text: `SELECT t.id, t.permissions, t.site_ids, t.secret_hash, t.expires_at,
                      u.id AS user_id, u.account_id, u.email, u.name
                 FROM account_tokens t JOIN users u ON u.id = t.user_id
                WHERE t.id = $1`,
        values: [parsed.id],
      });
      const row = rows[0];
      if (!secretMatches(parsed.secret, row?.secret_hash) || !row || isExpired(row.expires_at)) return null;
      usage.touch('account_tokens', row.id);
      return {
        principal: {
          kind: 'account_token',
          tokenId: row.id,
          user: { id: row.user_id, accountId: row.account_id, email: row.email, name: row.name },
          permissions: new Set(row.permissions.filter(isPermission)),
          siteIds: row.site_ids,
        },
        expiresAt: row.expires_at,
      };
    }

    async function siteApiKey(parsed: ParsedToken): Promise<Resolved | null> {
      const { rows } = await pool.query<{
        id: string;
        site_id: string;
        secret_hash: Buffer;
        expires_at: Date | null;
        revoked_at: Date | null;
      }>({
        name: 'auth-site-api-key',
        text: 'SELECT id, site_id, secret_hash, expires_at, revoked_at FROM site_api_keys WHERE id = $1',
        values: [parsed.id],
      });
      const row = rows[0];
      if (!secretMatches(parsed.secret, row?.secret_hash) || !row) return null;
      if (row.revoked_at !== null || isExpired(row.expires_at)) return null;
      usage.touch('site_api_keys', row.id);
      return {
        principal: {
          kind: 'site_api_key',
          keyId: row.id,
          siteId: row.site_id,
          permissions: new Set(['stats:read']),
        },
        expiresAt: row.expires_at,
      };
    }

    async function session(raw: string): Promise<Resolved | null> {
      const claims = await sessions.verify(raw);
      if (!claims) return null;
      const { rows } = await pool.query<{
        id: string;
        account_id: string;
        email: string;
        name: string | null;
      }>({
        name: 'auth-session-user',
        text: 'SELECT id, account_id, email, name FROM users WHERE id = $1',
        values: [claims.userId],
      });
      const user = rows[0];
      if (!user) return null;
      return {
        principal: {
          kind: 'session',
          tokenId: null,
          user: { id: user.id, accountId: user.account_id, email: user.email, name: user.name },
          permissions: ALL_PERMISSIONS,
          siteIds: null,
        },
        expiresAt: claims.expiresAt,
      };
    }

    /**
     * A public dashboard's token (routes/share.routes.ts): what a site API key of that site may do
     * (`stats:read` there, nothing else), and only while the site is public, so switching
     * `public_stats` off cuts every token at once.
     */
    async function shareToken(raw: string): Promise<Principal | null> {
      const claims = await shares.verify(raw);
      if (!claims) return null;
      const { rows } = await pool.query<{ public_stats: boolean }>(
        'SELECT public_stats FROM sites WHERE id = $1',
        [claims.siteId],
      );
      if (!rows[0]?.public_stats) return null;
      return {
        kind: 'site_api_key',
        keyId: `share_${claims.tokenId}`,
        siteId: claims.siteId,
        permissions: new Set(['stats:read']),
      };
    }

    async function lookup(raw: string): Promise<Resolved | Principal | null> {
      const parsed = parseToken(raw);
      if (parsed?.kind === 'tma') return accountToken(parsed);
      if (parsed?.kind === 'tmk') return siteApiKey(parsed);
      // Both are JWTs; their audiences differ, so at most one of the two verifications passes.
      // Share tokens are not cached: switching `public_stats` off must cut them on every request.
      if (looksLikeJwt(raw)) return (await session(raw)) ?? (await shareToken(raw));
      return null;
    }

    /**
     * What this process remembers of a well-formed bearer token: its principal, null when the token
     * has expired since it was resolved, undefined when it is not cached.
     */
    function known(header: string | undefined): Principal | null | undefined {
      const raw = wellFormedBearerToken(header);
      const cached = raw ? cache.get(raw) : undefined;
      // Only sessions, account tokens and site API keys are ever cached.
      if (cached?.kind === 'account_token') usage.touch('account_tokens', cached.tokenId);
      if (cached?.kind === 'site_api_key') usage.touch('site_api_keys', cached.keyId);
      return cached;
    }

    /** Reads a token not in the cache, and caches what it resolves to. */
    async function resolve(raw: string): Promise<Principal | null> {
      const epoch = cache.epoch();
      const found = await lookup(raw);
      if (!found || !('principal' in found)) return found;
      cache.set(raw, found.principal, found.expiresAt, epoch);
      return found.principal;
    }

    app.decorateRequest('principal', null);
    app.decorateRequest('siteAccess', null);

    app.decorate('authenticate', async (req: FastifyRequest, reply: FastifyReply) => {
      let principal = known(req.headers.authorization);
      if (!principal) {
        // Before PostgreSQL is asked, so guessing tokens is throttled as guessing passwords is.
        await rateLimits.byIp(req.ip, reply);
        const raw = bearerToken(req.headers.authorization);
        if (!raw) throw missingToken();
        if (principal === undefined) principal = await resolve(raw);
        if (!principal) throw invalidToken();
      }
      req.principal = principal;
      // Sessions count per user: logging in again must not buy a fresh budget.
      const key =
        principal.kind === 'session'
          ? `user:${principal.user.id}`
          : principal.kind === 'account_token'
            ? `tma:${principal.tokenId}`
            : `tmk:${principal.keyId}`;
      await rateLimits.byToken(key, reply);
    });

    app.decorate('authenticateRoutes', function (this: FastifyInstance) {
      this.addHook('onRoute', (route) => {
        route.config = { ...route.config, authenticated: true };
      });
      this.addHook('onRequest', this.authenticate);
    });

    app.decorate('resolveSiteAccess', (req: FastifyRequest, ref, permission, opts) =>
      resolveSiteAccess(pool, req.principal, ref, permission, opts, siteLookups),
    );
  },
  { name: 'tidemark-auth' },
);

/** Where a route names its site: the `{site}` path parameter, else the `site_id` query parameter (stats). */
const defaultSiteRef = (req: FastifyRequest): string | undefined =>
  (req.params as { site?: string } | undefined)?.site ??
  (req.query as { site_id?: string } | undefined)?.site_id;

/**
 * preHandler for site-scoped routes (admin and stats): resolves the site for the authenticated
 * caller, enforces `permission` (see `resolveSiteAccess` for the answers), and leaves the result in
 * `req.siteAccess` (read it with `siteAccessOf(req)`). Needs `app.authenticateRoutes()` in the plugin.
 * A site API key may leave the site out: it implies its own site.
 */
export function requireSiteAccess(
  permission: Permission,
  opts: SiteAccessOptions & { siteRef?: (req: FastifyRequest) => string | undefined } = {},
): preHandlerAsyncHookHandler {
  const siteRef = opts.siteRef ?? defaultSiteRef;
  return async function siteAccessHook(req) {
    req.siteAccess = await req.server.resolveSiteAccess(req, siteRef(req), permission, opts);
  };
}

export function siteAccessOf(req: FastifyRequest): SiteAccess {
  if (!req.siteAccess)
    throw new Error(`requireSiteAccess did not run for ${req.method} ${req.routeOptions.url}`);
  return req.siteAccess;
}
