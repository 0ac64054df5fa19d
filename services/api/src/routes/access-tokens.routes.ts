import { issueToken, keyPrefix, tokenPreview, type Permission } from '@tidemark/auth';
import {
  accessToken,
  accessTokenIdParams,
  createAccessTokenBody,
  createdAccessToken,
  dataOf,
  deletedBody,
  noQuery,
} from '@tidemark/api-schemas';
import { ApiError } from '@tidemark/http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { recordActivity } from '../activity';
import { actorOf, insufficientScope, requirePermission } from '../auth/principal';
import { iso, isUniqueViolation, withTransaction } from '../db';
import { AUTHENTICATED_ERRORS, bearerAuth, BODY_ERRORS, errorResponses, type RouteContext } from './context';

interface TokenRow {
  id: string;
  name: string;
  permissions: string[];
  site_ids: string[] | null;
  expires_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
}

const COLUMNS = 'id, name, permissions, site_ids, expires_at, last_used_at, created_at';

const toResponse = (t: TokenRow) => ({
  id: t.id,
  name: t.name,
  permissions: t.permissions,
  site_ids: t.site_ids,
  key_prefix: keyPrefix('tma', t.id),
  preview: tokenPreview('tma', t.id),
  expires_at: iso(t.expires_at),
  last_used_at: iso(t.last_used_at),
  created_at: t.created_at.toISOString(),
});

/** Account tokens (`tma_`): the user's own; managing them takes the api-keys permissions. */
export const accessTokenRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, ctx) => {
  app.authenticateRoutes();

  app.get(
    '/',
    {
      schema: {
        tags: ['access tokens'],
        summary: "List the calling user's account tokens (never their secrets)",
        security: bearerAuth,
        querystring: noQuery,
        response: { 200: dataOf(accessToken.array()), ...errorResponses(...AUTHENTICATED_ERRORS) },
      },
    },
    async (req) => {
      const principal = requirePermission(req.principal, 'api-keys:read');
      const { rows } = await ctx.pool.query<TokenRow>(
        `SELECT ${COLUMNS} FROM account_tokens WHERE user_id = $1 ORDER BY created_at DESC, id`,
        [principal.user.id],
      );
      return { data: rows.map(toResponse) };
    },
  );

  app.post(
    '/',
    {
      schema: {
        tags: ['access tokens'],
        summary: 'Create an account token; the raw token is in this answer only',
        security: bearerAuth,
        body: createAccessTokenBody,
        response: {
          201: dataOf(createdAccessToken),
          ...errorResponses(...AUTHENTICATED_ERRORS, ...BODY_ERRORS),
        },
      },
    },
    async (req, reply) => {
      const principal = requirePermission(req.principal, 'api-keys:write');
      const body = req.body;
      const siteIds = body.site_ids ?? null;

      // A token can only mint tokens within itself: no permission and no site it does not have.
      if (principal.kind === 'account_token') {
        const extra = body.permissions.filter((p: Permission) => !principal.permissions.has(p));
        if (extra.length)
          throw insufficientScope(`this token cannot grant permissions it lacks: ${extra.join(', ')}`);
        if (principal.siteIds && (!siteIds || siteIds.some((id) => !principal.siteIds!.includes(id)))) {
          throw insufficientScope('this token is restricted to some sites; list site_ids within them');
        }
      }
      if (siteIds) {
        const { rows } = await ctx.pool.query<{ id: string }>(
          `SELECT s.id FROM sites s LEFT JOIN site_members m ON m.site_id = s.id AND m.user_id = $1
            WHERE s.id = ANY($3::uuid[]) AND (s.account_id = $2 OR m.user_id IS NOT NULL)`,
          [principal.user.id, principal.user.accountId, siteIds],
        );
        const visible = new Set(rows.map((r) => r.id));
        const unknown = siteIds.filter((id) => !visible.has(id));
        if (unknown.length)
          throw ApiError.validation({ site_ids: unknown.map((id) => `no such site: ${id}`) });
      }

      const created = await withTransaction(ctx.pool, async (tx) => {
        for (let attempt = 0; ; attempt++) {
          const issued = issueToken('tma');
          try {
            await tx.query('SAVEPOINT issue');
            const { rows } = await tx.query<TokenRow>(
              `INSERT INTO account_tokens (id, account_id, user_id, name, permissions, site_ids, secret_hash, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
              [
                issued.id,
                principal.user.accountId,
                principal.user.id,
                body.name,
                body.permissions,
                siteIds,
                issued.secretHash,
                body.expires_at ?? null,
              ],
            );
            await recordActivity(tx, {
              accountId: principal.user.accountId,
              actor: actorOf(principal),
              action: 'access_token.created',
              resourceType: 'access_token',
              resourceId: issued.id,
              metadata: { name: body.name, permissions: body.permissions, site_ids: siteIds },
            });
            return { ...toResponse(rows[0]!), token: issued.token };
          } catch (err) {
            // A 48-bit id collision is astronomically rare; try a fresh id rather than fail.
            if (attempt < 3 && isUniqueViolation(err, 'account_tokens_pkey')) {
              await tx.query('ROLLBACK TO SAVEPOINT issue');
              continue;
            }
            throw err;
          }
        }
      });
      return reply.code(201).send({ data: created });
    },
  );

  app.delete(
    '/:id',
    {
      schema: {
        tags: ['access tokens'],
        summary: 'Delete an account token; it stops working at once',
        security: bearerAuth,
        params: accessTokenIdParams,
        querystring: noQuery,
        response: { 200: dataOf(deletedBody), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
    },
    async (req) => {
      const principal = requirePermission(req.principal, 'api-keys:write');
      await withTransaction(ctx.pool, async (tx) => {
        const { rows } = await tx.query<{ id: string; name: string }>(
          'DELETE FROM account_tokens WHERE id = $1 AND user_id = $2 RETURNING id, name',
          [req.params.id, principal.user.id],
        );
        if (!rows[0]) throw new ApiError('not_found', 'no such access token');
        await recordActivity(tx, {
          accountId: principal.user.accountId,
          actor: actorOf(principal),
          action: 'access_token.deleted',
          resourceType: 'access_token',
          resourceId: rows[0].id,
          metadata: { name: rows[0].name },
        });
      });
      await ctx.caches.invalidate();
      return { data: { deleted: true as const } };
    },
  );
};
