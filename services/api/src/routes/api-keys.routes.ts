import { issueToken, keyPrefix, tokenPreview } from '@tidemark/auth';
import {
  apiKey,
  apiKeyParams,
  createApiKeyBody,
  createdApiKey,
  dataOf,
  emptyBody,
  noQuery,
  siteParams,
} from '@tidemark/api-schemas';
import { ApiError } from '@tidemark/http';
import type { PoolClient } from '@tidemark/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { recordActivity } from '../activity';
import { requireSiteAccess, siteAccessOf } from '../auth/auth.plugin';
import { actorOf, insufficientScope } from '../auth/principal';
import { userPrincipalOf, type SiteAccess } from '../auth/site-access';
import { iso, isUniqueViolation, withTransaction } from '../db';
import { AUTHENTICATED_ERRORS, bearerAuth, BODY_ERRORS, errorResponses, type RouteContext } from './context';

interface KeyRow {
  id: string;
  site_id: string;
  name: string;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
}

const COLUMNS = 'id, site_id, name, expires_at, last_used_at, revoked_at, created_at';

const toResponse = (k: KeyRow) => ({
  id: k.id,
  site_id: k.site_id,
  name: k.name,
  scope: 'stats:read' as const,
  key_prefix: keyPrefix('tmk', k.id),
  preview: tokenPreview('tmk', k.id),
  expires_at: iso(k.expires_at),
  last_used_at: iso(k.last_used_at),
  revoked_at: iso(k.revoked_at),
  created_at: k.created_at.toISOString(),
});

/** A key grants stats:read; an account token cannot mint one unless it holds stats:read itself. */
function assertCanGrantStatsRead(access: SiteAccess) {
  if (!access.permissions.has('stats:read')) {
    throw insufficientScope('a site API key grants stats:read, which this token lacks', 'stats:read');
  }
}

async function insertKey(
  tx: PoolClient,
  input: { siteId: string; name: string; expiresAt: Date | null; createdBy: string },
) {
  for (let attempt = 0; ; attempt++) {
    const issued = issueToken('tmk');
    try {
      await tx.query('SAVEPOINT issue_key');
      const { rows } = await tx.query<KeyRow>(
        `INSERT INTO site_api_keys (id, site_id, name, secret_hash, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
        [issued.id, input.siteId, input.name, issued.secretHash, input.createdBy, input.expiresAt],
      );
      return { row: rows[0]!, token: issued.token };
    } catch (err) {
      // A 48-bit id collision is astronomically rare; try a fresh id rather than fail.
      if (attempt < 3 && isUniqueViolation(err, 'site_api_keys_pkey')) {
        await tx.query('ROLLBACK TO SAVEPOINT issue_key');
        continue;
      }
      throw err;
    }
  }
}

/** Site API keys (`tmk_`), `stats:read` on one site; owners only (the role table gives no one else api-keys:*). */
export const apiKeyRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, ctx) => {
  app.authenticateRoutes();

  app.get(
    '/',
    {
      schema: {
        tags: ['site API keys'],
        summary: "The site's API keys, revoked ones included (never their secrets)",
        security: bearerAuth,
        params: siteParams,
        querystring: noQuery,
        response: { 200: dataOf(apiKey.array()), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('api-keys:read'),
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const { rows } = await ctx.pool.query<KeyRow>(
        `SELECT ${COLUMNS} FROM site_api_keys WHERE site_id = $1 ORDER BY created_at DESC, id`,
        [site.id],
      );
      return { data: rows.map(toResponse) };
    },
  );

  app.post(
    '/',
    {
      schema: {
        tags: ['site API keys'],
        summary: 'Create a key; the raw key is in this answer only',
        security: bearerAuth,
        params: siteParams,
        body: createApiKeyBody,
        response: {
          201: dataOf(createdApiKey),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, ...BODY_ERRORS),
        },
      },
      preHandler: requireSiteAccess('api-keys:write'),
    },
    async (req, reply) => {
      const access = siteAccessOf(req);
      assertCanGrantStatsRead(access);
      const principal = userPrincipalOf(access);
      const created = await withTransaction(ctx.pool, async (tx) => {
        const { row, token } = await insertKey(tx, {
          siteId: access.site.id,
          name: req.body.name,
          expiresAt: req.body.expires_at ?? null,
          createdBy: principal.user.id,
        });
        await recordActivity(tx, {
          accountId: access.site.account_id,
          actor: actorOf(principal),
          action: 'api_key.created',
          resourceType: 'api_key',
          resourceId: row.id,
          siteId: access.site.id,
          metadata: { name: row.name },
        });
        return { ...toResponse(row), token };
      });
      return reply.code(201).send({ data: created });
    },
  );

  app.post(
    '/:id/roll',
    {
      schema: {
        tags: ['site API keys'],
        summary: 'Replace a key by a new one; the old secret stops working at once',
        security: bearerAuth,
        params: apiKeyParams,
        querystring: noQuery,
        body: emptyBody,
        response: {
          200: dataOf(createdApiKey),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, 409, ...BODY_ERRORS),
        },
      },
      preHandler: requireSiteAccess('api-keys:write'),
    },
    async (req) => {
      const access = siteAccessOf(req);
      assertCanGrantStatsRead(access);
      const principal = userPrincipalOf(access);
      const rolled = await withTransaction(ctx.pool, async (tx) => {
        // Locked so two concurrent rolls cannot both replace the same key.
        const { rows } = await tx.query<KeyRow>(
          `SELECT ${COLUMNS} FROM site_api_keys WHERE id = $1 AND site_id = $2 FOR UPDATE`,
          [req.params.id, access.site.id],
        );
        const old = rows[0];
        if (!old) throw new ApiError('not_found', 'no such API key');
        if (old.revoked_at) throw new ApiError('conflict', 'this key is revoked; create a new one instead');
        if (old.expires_at && old.expires_at.getTime() <= Date.now()) {
          throw new ApiError('conflict', 'this key has expired; create a new one instead');
        }
        const { row, token } = await insertKey(tx, {
          siteId: access.site.id,
          name: old.name,
          expiresAt: old.expires_at,
          createdBy: principal.user.id,
        });
        await tx.query('UPDATE site_api_keys SET revoked_at = now(), replaced_by = $2 WHERE id = $1', [
          old.id,
          row.id,
        ]);
        await recordActivity(tx, {
          accountId: access.site.account_id,
          actor: actorOf(principal),
          action: 'api_key.rolled',
          resourceType: 'api_key',
          resourceId: old.id,
          siteId: access.site.id,
          metadata: { name: old.name, replaced_by: row.id },
        });
        return { ...toResponse(row), token };
      });
      await ctx.caches.invalidate();
      return { data: rolled };
    },
  );

  app.delete(
    '/:id',
    {
      schema: {
        tags: ['site API keys'],
        summary: 'Revoke a key; it stops working at once',
        security: bearerAuth,
        params: apiKeyParams,
        querystring: noQuery,
        response: { 200: dataOf(apiKey), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('api-keys:write'),
    },
    async (req) => {
      const access = siteAccessOf(req);
      const principal = userPrincipalOf(access);
      const revoked = await withTransaction(ctx.pool, async (tx) => {
        const { rows } = await tx.query<KeyRow & { newly_revoked: boolean }>(
          `UPDATE site_api_keys SET revoked_at = coalesce(revoked_at, now())
            WHERE id = $1 AND site_id = $2
            RETURNING ${COLUMNS}, (revoked_at = now()) AS newly_revoked`,
          [req.params.id, access.site.id],
        );
        const row = rows[0];
        if (!row) throw new ApiError('not_found', 'no such API key');
        // Revoking twice is harmless and answers the same; only the first one is logged.
        if (row.newly_revoked) {
          await recordActivity(tx, {
            accountId: access.site.account_id,
            actor: actorOf(principal),
            action: 'api_key.revoked',
            resourceType: 'api_key',
            resourceId: row.id,
            siteId: access.site.id,
            metadata: { name: row.name },
          });
        }
        return toResponse(row);
      });
      await ctx.caches.invalidate();
      return { data: revoked };
    },
  );
};
