import { activityPage, activityQuery } from '@tidemark/api-schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { listActivity } from '../activity';
import { requirePermission } from '../auth/principal';
import { AUTHENTICATED_ERRORS, bearerAuth, errorResponses, type RouteContext } from './context';

export const activityRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, ctx) => {
  app.authenticateRoutes();

  app.get(
    '/',
    {
      schema: {
        tags: ['activity'],
        summary: "Who did what in the caller's account, newest first",
        description: 'Paged by cursor: pass `meta.next_before` as `before` for older entries.',
        security: bearerAuth,
        querystring: activityQuery,
        response: { 200: activityPage, ...errorResponses(...AUTHENTICATED_ERRORS) },
      },
    },
    async (req) => {
      const principal = requirePermission(req.principal, 'account:read');
      const { limit, before } = req.query;
      // One extra row tells whether an older page exists without a count query.
      const rows = await listActivity(ctx.pool, {
        accountId: principal.user.accountId,
        limit: limit + 1,
        before,
        siteIds: principal.siteIds,
      });
      const page = rows.slice(0, limit);
      const more = rows.length > limit;
      return {
        data: page.map((r) => ({
          id: String(r.id),
          action: r.action,
          resource_type: r.resource_type,
          resource_id: r.resource_id,
          site_id: r.site_id,
          actor: { user_id: r.actor_user_id, email: r.actor_email, token_id: r.actor_token_id },
          metadata: r.metadata,
          created_at: r.created_at.toISOString(),
        })),
        meta: { limit, next_before: more ? String(page[page.length - 1]!.id) : null },
      };
    },
  );
};
