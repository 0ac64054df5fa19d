import {
  createGoalBody,
  dataOf,
  deletedBody,
  goal as goalSchema,
  goalParams,
  noQuery,
  siteParams,
} from '@tidemark/api-schemas';
import { ApiError } from '@tidemark/http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { recordActivity } from '../activity';
import { requireSiteAccess, siteAccessOf } from '../auth/auth.plugin';
import { actorOf } from '../auth/principal';
import { userPrincipalOf } from '../auth/site-access';
import { isUniqueViolation, withTransaction } from '../db';
import { AUTHENTICATED_ERRORS, bearerAuth, BODY_ERRORS, errorResponses, type RouteContext } from './context';

interface GoalRow {
  id: string;
  site_id: string;
  name: string;
  event_name: string | null;
  page_path: string | null;
  created_at: Date;
}

const COLUMNS = 'id, site_id, name, event_name, page_path, created_at';

const toResponse = (g: GoalRow, eventsLast30d: number | null) => ({
  id: g.id,
  site_id: g.site_id,
  name: g.name,
  event_name: g.event_name,
  page_path: g.page_path,
  events_last_30d: eventsLast30d,
  created_at: g.created_at.toISOString(),
});

/**
 * Goals: a custom event name or a page path that counts as a conversion. Funnels and alerts refer
 * to goals by name, so a goal they use cannot be deleted (409) and names are unique per site.
 */
export const goalRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, ctx) => {
  app.authenticateRoutes();

  const withCounts = async (siteId: string, rows: GoalRow[]) => {
    const counts = await ctx.analytics.goalEventsLast30d(siteId, rows);
    return rows.map((g, i) => toResponse(g, counts ? counts[i]! : null));
  };

  app.get(
    '/',
    {
      schema: {
        tags: ['goals'],
        summary: "The site's goals, most completed in the last 30 days first",
        security: bearerAuth,
        params: siteParams,
        querystring: noQuery,
        response: { 200: dataOf(goalSchema.array()), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('goals:read'),
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const { rows } = await ctx.pool.query<GoalRow>(
        `SELECT ${COLUMNS} FROM goals WHERE site_id = $1 ORDER BY name`,
        [site.id],
      );
      const goals = await withCounts(site.id, rows);
      // Stable: without counts (ClickHouse away) the order stays by name.
      goals.sort((a, b) => (b.events_last_30d ?? 0) - (a.events_last_30d ?? 0));
      return { data: goals };
    },
  );

  app.post(
    '/',
    {
      schema: {
        tags: ['goals'],
        summary: 'Add a goal: {name, event_name} or {name, page_path}',
        security: bearerAuth,
        params: siteParams,
        body: createGoalBody,
        response: {
          201: dataOf(goalSchema),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, 409, ...BODY_ERRORS),
        },
      },
      preHandler: requireSiteAccess('goals:write'),
    },
    async (req, reply) => {
      const access = siteAccessOf(req);
      const principal = userPrincipalOf(access);
      const { name, event_name, page_path } = req.body;
      let row: GoalRow;
      try {
        row = await withTransaction(ctx.pool, async (tx) => {
          const { rows } = await tx.query<GoalRow>(
            `INSERT INTO goals (site_id, name, event_name, page_path, created_by)
             VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
            [access.site.id, name, event_name ?? null, page_path ?? null, principal.user.id],
          );
          const created = rows[0]!;
          await recordActivity(tx, {
            accountId: access.site.account_id,
            actor: actorOf(principal),
            action: 'goal.created',
            resourceType: 'goal',
            resourceId: created.id,
            siteId: access.site.id,
            metadata: { name, event_name: created.event_name, page_path: created.page_path },
          });
          return created;
        });
      } catch (err) {
        if (isUniqueViolation(err, 'goals_site_name_key')) {
          throw new ApiError('conflict', `this site already has a goal named ${JSON.stringify(name)}`, {
            name: ['is already the name of a goal of this site'],
          });
        }
        throw err;
      }
      await app.siteConfig.changed(access.site.id);
      // Goals count past events too: a new goal on an existing event name shows its history at once.
      const [created] = await withCounts(access.site.id, [row]);
      return reply.code(201).send({ data: created! });
    },
  );

  app.delete(
    '/:id',
    {
      schema: {
        tags: ['goals'],
        summary: 'Delete a goal no funnel or alert uses',
        security: bearerAuth,
        params: goalParams,
        querystring: noQuery,
        response: { 200: dataOf(deletedBody), ...errorResponses(...AUTHENTICATED_ERRORS, 404, 409) },
      },
      preHandler: requireSiteAccess('goals:write'),
    },
    async (req) => {
      const access = siteAccessOf(req);
      await withTransaction(ctx.pool, async (tx) => {
        // Locked first: a funnel or alert being created with this goal (which reads it FOR SHARE)
        // either commits before the check below sees it, or waits and then finds the goal gone.
        const { rows } = await tx.query<GoalRow>(
          `SELECT ${COLUMNS} FROM goals WHERE id = $1 AND site_id = $2 FOR UPDATE`,
          [req.params.id, access.site.id],
        );
        const goal = rows[0];
        if (!goal) throw new ApiError('not_found', 'no such goal');
        const { rows: users } = await tx.query<{ kind: 'funnels' | 'alerts'; name: string }>(
          `SELECT 'funnels' AS kind, name FROM funnels
            WHERE site_id = $1 AND deleted_at IS NULL
              AND steps @> jsonb_build_array(jsonb_build_object('type', 'goal', 'goal_name', $2::text))
           UNION ALL
           SELECT 'alerts', name FROM alerts WHERE site_id = $1 AND goal_name = $2
           ORDER BY 1, 2`,
          [access.site.id, goal.name],
        );
        if (users.length > 0) {
          const details: Record<string, string[]> = {};
          for (const u of users) (details[u.kind] ??= []).push(u.name);
          throw new ApiError(
            'conflict',
            `goal ${JSON.stringify(goal.name)} is used by ${users.length} funnel(s) or alert(s); change or delete them first`,
            details,
          );
        }
        await tx.query('DELETE FROM goals WHERE id = $1', [goal.id]);
        await recordActivity(tx, {
          accountId: access.site.account_id,
          actor: actorOf(userPrincipalOf(access)),
          action: 'goal.deleted',
          resourceType: 'goal',
          resourceId: goal.id,
          siteId: access.site.id,
          metadata: { name: goal.name },
        });
      });
      await app.siteConfig.changed(access.site.id);
      return { data: { deleted: true as const } };
    },
  );
};
