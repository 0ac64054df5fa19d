import {
  createFunnelBody,
  dataOf,
  deletedBody,
  funnel as funnelSchema,
  funnelParams,
  FUNNEL_DEFAULT_WINDOW_MINUTES,
  type FunnelStep,
  noQuery,
  siteParams,
  updateFunnelBody,
} from '@tidemark/api-schemas';
import { ApiError } from '@tidemark/http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { recordActivity } from '../activity';
import { requireSiteAccess, siteAccessOf } from '../auth/auth.plugin';
import { actorOf } from '../auth/principal';
import { userPrincipalOf } from '../auth/site-access';
import { isUniqueViolation, sameJson, withTransaction, type Queryable } from '../db';
import { requireGoals } from '../site-config/goal-refs';
import { AUTHENTICATED_ERRORS, bearerAuth, BODY_ERRORS, errorResponses, type RouteContext } from './context';

interface FunnelRow {
  id: string;
  site_id: string;
  name: string;
  steps: FunnelStep[];
  window_minutes: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, site_id, name, steps, window_minutes, created_at, updated_at';

const toResponse = (f: FunnelRow) => ({
  id: f.id,
  site_id: f.site_id,
  name: f.name,
  steps: f.steps,
  window_minutes: f.window_minutes,
  created_at: f.created_at.toISOString(),
  updated_at: f.updated_at.toISOString(),
});

const nameConflict = (name: string) =>
  new ApiError('conflict', `this site already has a funnel named ${JSON.stringify(name)}`, {
    name: ['is already the name of a funnel of this site'],
  });

/** Goal steps must name goals of the site; 422 names each step that does not. */
const requireStepGoals = (tx: Queryable, siteId: string, steps: FunnelStep[]) =>
  requireGoals(
    tx,
    siteId,
    steps.flatMap((s, i) =>
      s.type === 'goal' ? [{ field: `steps.${i}.goal_name`, name: s.goal_name }] : [],
    ),
  );

/** Funnels: 2 to 8 ordered steps. Deletion is soft, so reports and the activity log still resolve them. */
export const funnelRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, ctx) => {
  app.authenticateRoutes();

  app.get(
    '/',
    {
      schema: {
        tags: ['funnels'],
        summary: "The site's funnels (deleted ones left out)",
        security: bearerAuth,
        params: siteParams,
        querystring: noQuery,
        response: { 200: dataOf(funnelSchema.array()), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('funnels:read'),
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const { rows } = await ctx.pool.query<FunnelRow>(
        `SELECT ${COLUMNS} FROM funnels WHERE site_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`,
        [site.id],
      );
      return { data: rows.map(toResponse) };
    },
  );

  app.post(
    '/',
    {
      schema: {
        tags: ['funnels'],
        summary: 'Add a funnel of 2 to 8 steps',
        description: `Each step is {name, type: "pageview", url} or {name, type: "goal", goal_name} (an existing goal). window_minutes defaults to ${FUNNEL_DEFAULT_WINDOW_MINUTES}.`,
        security: bearerAuth,
        params: siteParams,
        body: createFunnelBody,
        response: {
          201: dataOf(funnelSchema),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, 409, ...BODY_ERRORS),
        },
      },
      preHandler: requireSiteAccess('funnels:write'),
    },
    async (req, reply) => {
      const access = siteAccessOf(req);
      const principal = userPrincipalOf(access);
      const { name, steps } = req.body;
      try {
        const created = await withTransaction(ctx.pool, async (tx) => {
          await requireStepGoals(tx, access.site.id, steps);
          const { rows } = await tx.query<FunnelRow>(
            `INSERT INTO funnels (site_id, name, steps, window_minutes, created_by)
             VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
            [
              access.site.id,
              name,
              JSON.stringify(steps),
              req.body.window_minutes ?? FUNNEL_DEFAULT_WINDOW_MINUTES,
              principal.user.id,
            ],
          );
          const row = rows[0]!;
          await recordActivity(tx, {
            accountId: access.site.account_id,
            actor: actorOf(principal),
            action: 'funnel.created',
            resourceType: 'funnel',
            resourceId: row.id,
            siteId: access.site.id,
            metadata: { name, steps: steps.length },
          });
          return row;
        });
        return reply.code(201).send({ data: toResponse(created) });
      } catch (err) {
        if (isUniqueViolation(err, 'funnels_site_name_key')) throw nameConflict(name);
        throw err;
      }
    },
  );

  app.put(
    '/:id',
    {
      schema: {
        tags: ['funnels'],
        summary: 'Change any of name, steps, window_minutes',
        description: 'Fields left out are kept; steps, when given, replace all steps.',
        security: bearerAuth,
        params: funnelParams,
        body: updateFunnelBody,
        response: {
          200: dataOf(funnelSchema),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, 409, ...BODY_ERRORS),
        },
      },
      preHandler: requireSiteAccess('funnels:write'),
    },
    async (req) => {
      const access = siteAccessOf(req);
      const principal = userPrincipalOf(access);
      const { name, steps, window_minutes } = req.body;
      try {
        const updated = await withTransaction(ctx.pool, async (tx) => {
          const { rows } = await tx.query<FunnelRow>(
            `SELECT ${COLUMNS} FROM funnels WHERE id = $1 AND site_id = $2 AND deleted_at IS NULL FOR UPDATE`,
            [req.params.id, access.site.id],
          );
          const old = rows[0];
          if (!old) throw new ApiError('not_found', 'no such funnel');
          if (steps) await requireStepGoals(tx, access.site.id, steps);
          const next = {
            name: name ?? old.name,
            steps: steps ?? old.steps,
            window_minutes: window_minutes ?? old.window_minutes,
          };
          const changed = (Object.keys(next) as Array<keyof typeof next>).filter(
            (k) => !sameJson(next[k], old[k]),
          );
          if (changed.length === 0) return old;
          const { rows: saved } = await tx.query<FunnelRow>(
            `UPDATE funnels SET name = $2, steps = $3, window_minutes = $4, updated_at = now()
              WHERE id = $1 RETURNING ${COLUMNS}`,
            [old.id, next.name, JSON.stringify(next.steps), next.window_minutes],
          );
          await recordActivity(tx, {
            accountId: access.site.account_id,
            actor: actorOf(principal),
            action: 'funnel.updated',
            resourceType: 'funnel',
            resourceId: old.id,
            siteId: access.site.id,
            metadata: { name: next.name, changed },
          });
          return saved[0]!;
        });
        return { data: toResponse(updated) };
      } catch (err) {
        if (isUniqueViolation(err, 'funnels_site_name_key')) throw nameConflict(name ?? '');
        throw err;
      }
    },
  );

  app.delete(
    '/:id',
    {
      schema: {
        tags: ['funnels'],
        summary: 'Delete a funnel (soft: its name becomes free again)',
        security: bearerAuth,
        params: funnelParams,
        querystring: noQuery,
        response: { 200: dataOf(deletedBody), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('funnels:write'),
    },
    async (req) => {
      const access = siteAccessOf(req);
      await withTransaction(ctx.pool, async (tx) => {
        const { rows } = await tx.query<{ id: string; name: string }>(
          `UPDATE funnels SET deleted_at = now(), updated_at = now()
            WHERE id = $1 AND site_id = $2 AND deleted_at IS NULL
            RETURNING id, name`,
          [req.params.id, access.site.id],
        );
        const row = rows[0];
        if (!row) throw new ApiError('not_found', 'no such funnel');
        await recordActivity(tx, {
          accountId: access.site.account_id,
          actor: actorOf(userPrincipalOf(access)),
          action: 'funnel.deleted',
          resourceType: 'funnel',
          resourceId: row.id,
          siteId: access.site.id,
          metadata: { name: row.name },
        });
      });
      return { data: { deleted: true as const } };
    },
  );
};
