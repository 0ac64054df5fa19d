import {
  dataOf,
  inviteBody,
  noQuery,
  removedMember,
  removeMemberBody,
  siteParams,
  teamMember,
} from '@tidemark/api-schemas';
import type { SiteRole } from '@tidemark/auth';
import { ApiError } from '@tidemark/http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { recordActivity } from '../activity';
import { requireSiteAccess, siteAccessOf } from '../auth/auth.plugin';
import { actorOf } from '../auth/principal';
import { userPrincipalOf } from '../auth/site-access';
import { isUniqueViolation, withTransaction } from '../db';
import { findUserByEmail } from '../users/users.store';
import { AUTHENTICATED_ERRORS, bearerAuth, BODY_ERRORS, errorResponses, type RouteContext } from './context';

interface TeamRow {
  user_id: string | null;
  email: string;
  name: string | null;
  role: SiteRole;
  status: 'active' | 'pending';
  created_at: Date;
}

const toResponse = (r: TeamRow) => ({
  user_id: r.user_id,
  email: r.email,
  name: r.name,
  role: r.role,
  status: r.status,
  created_at: r.created_at.toISOString(),
});

/**
 * Who can see a site: its owner (the user of the account that holds it), members and viewers, and
 * pending invites for emails with no user yet (they become members at signup). Owner only: the
 * role table gives team:* to no other role.
 */
export const teamRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, ctx) => {
  app.authenticateRoutes();

  app.get(
    '/',
    {
      schema: {
        tags: ['team'],
        summary: 'The owner, members, viewers and pending invites of a site',
        security: bearerAuth,
        params: siteParams,
        querystring: noQuery,
        response: { 200: dataOf(teamMember.array()), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('team:read'),
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const { rows } = await ctx.pool.query<TeamRow>(
        `SELECT u.id AS user_id, u.email, u.name, 'owner' AS role, 'active' AS status, s.created_at, 0 AS rank
           FROM sites s JOIN users u ON u.account_id = s.account_id WHERE s.id = $1
         UNION ALL
         SELECT u.id, u.email, u.name, m.role, 'active', m.created_at, 1
           FROM site_members m JOIN users u ON u.id = m.user_id WHERE m.site_id = $1
         UNION ALL
         SELECT NULL, i.email, NULL, i.role, 'pending', i.created_at, 2
           FROM site_invites i WHERE i.site_id = $1
         ORDER BY rank, created_at, email`,
        [site.id],
      );
      return { data: rows.map(toResponse) };
    },
  );

  app.post(
    '/',
    {
      schema: {
        tags: ['team'],
        summary: 'Invite a viewer or member by email',
        description:
          'A registered email becomes a member at once; another email gets a pending invite that signup with that email accepts.',
        security: bearerAuth,
        params: siteParams,
        body: inviteBody,
        response: {
          201: dataOf(teamMember),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, 409, ...BODY_ERRORS),
        },
      },
      preHandler: requireSiteAccess('team:write'),
    },
    async (req, reply) => {
      const access = siteAccessOf(req);
      const principal = userPrincipalOf(access);
      const { email, role } = req.body;
      const member = await withTransaction(ctx.pool, async (tx) => {
        const user = await findUserByEmail(tx, email);
        if (user?.account_id === access.site.account_id) {
          throw new ApiError('conflict', 'this user owns the site already');
        }
        let row: TeamRow;
        try {
          if (user) {
            const { rows } = await tx.query<{ created_at: Date }>(
              `INSERT INTO site_members (site_id, user_id, role, invited_by) VALUES ($1, $2, $3, $4) RETURNING created_at`,
              [access.site.id, user.id, role, principal.user.id],
            );
            row = {
              user_id: user.id,
              email,
              name: user.name,
              role,
              status: 'active',
              created_at: rows[0]!.created_at,
            };
          } else {
            const { rows } = await tx.query<{ created_at: Date }>(
              `INSERT INTO site_invites (site_id, email, role, invited_by) VALUES ($1, $2, $3, $4) RETURNING created_at`,
              [access.site.id, email, role, principal.user.id],
            );
            row = {
              user_id: null,
              email,
              name: null,
              role,
              status: 'pending',
              created_at: rows[0]!.created_at,
            };
          }
        } catch (err) {
          if (isUniqueViolation(err)) {
            throw new ApiError(
              'conflict',
              `${email} is already on this site's team; remove them first to change the role`,
            );
          }
          throw err;
        }
        await recordActivity(tx, {
          accountId: access.site.account_id,
          actor: actorOf(principal),
          action: user ? 'team_member.added' : 'team_member.invited',
          resourceType: 'team_member',
          resourceId: user?.id ?? email,
          siteId: access.site.id,
          metadata: { email, role },
        });
        return row;
      });
      // The site joins the member's list of sites (an invite joins it only at signup).
      if (member.status === 'active') await ctx.caches.invalidate();
      return reply.code(201).send({ data: toResponse(member) });
    },
  );

  app.delete(
    '/',
    {
      schema: {
        tags: ['team'],
        summary: 'Remove a member, viewer or pending invite by email',
        security: bearerAuth,
        params: siteParams,
        body: removeMemberBody,
        response: {
          200: dataOf(removedMember),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, ...BODY_ERRORS),
        },
      },
      preHandler: requireSiteAccess('team:write'),
    },
    async (req) => {
      const access = siteAccessOf(req);
      const principal = userPrincipalOf(access);
      const { email } = req.body;
      await withTransaction(ctx.pool, async (tx) => {
        const { rows: members } = await tx.query<{ user_id: string; role: string }>(
          `DELETE FROM site_members m USING users u
            WHERE m.site_id = $1 AND m.user_id = u.id AND u.email = $2
            RETURNING m.user_id, m.role`,
          [access.site.id, email],
        );
        const { rows: invites } = members.length
          ? { rows: [] }
          : await tx.query<{ role: string }>(
              'DELETE FROM site_invites WHERE site_id = $1 AND email = $2 RETURNING role',
              [access.site.id, email],
            );
        const removed = members[0] ?? invites[0];
        if (!removed) {
          const owner = await findUserByEmail(tx, email);
          if (owner?.account_id === access.site.account_id) {
            throw ApiError.validation({ email: ['is the site owner, who cannot be removed'] });
          }
          throw new ApiError('not_found', `${email} is not on this site's team`);
        }
        await recordActivity(tx, {
          accountId: access.site.account_id,
          actor: actorOf(principal),
          action: 'team_member.removed',
          resourceType: 'team_member',
          resourceId: members[0]?.user_id ?? email,
          siteId: access.site.id,
          metadata: { email, role: removed.role, status: members[0] ? 'active' : 'pending' },
        });
      });
      // The site leaves the member's list of sites.
      await ctx.caches.invalidate();
      return { data: { removed: true as const, email } };
    },
  );
};
