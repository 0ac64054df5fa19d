import {
  alert as alertSchema,
  alertFiring,
  alertHistoryQuery,
  alertParams,
  createAlertBody,
  dataOf,
  deletedBody,
  noQuery,
  siteParams,
  updateAlertBody,
  type AlertTrigger,
} from '@tidemark/api-schemas';
import { ApiError } from '@tidemark/http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { recordActivity } from '../activity';
import { requireSiteAccess, siteAccessOf } from '../auth/auth.plugin';
import { actorOf } from '../auth/principal';
import { userPrincipalOf } from '../auth/site-access';
import { iso, sameJson, withTransaction, type Queryable } from '../db';
import { requireGoals } from '../site-config/goal-refs';
import { AUTHENTICATED_ERRORS, bearerAuth, BODY_ERRORS, errorResponses, type RouteContext } from './context';

interface AlertRow {
  id: string;
  site_id: string;
  name: string;
  trigger: AlertTrigger;
  template: { subject: string; message: string };
  is_enabled: boolean;
  cooldown_minutes: number;
  last_fired_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS =
  'id, site_id, name, trigger, template, is_enabled, cooldown_minutes, last_fired_at, created_at, updated_at';

/** The database's default: at most one firing an hour unless the alert says otherwise. */
const DEFAULT_COOLDOWN_MINUTES = 60;

const toResponse = (a: AlertRow) => ({
  id: a.id,
  site_id: a.site_id,
  name: a.name,
  trigger: a.trigger,
  template: a.template,
  is_enabled: a.is_enabled,
  cooldown_minutes: a.cooldown_minutes,
  last_fired_at: iso(a.last_fired_at),
  created_at: a.created_at.toISOString(),
  updated_at: a.updated_at.toISOString(),
});

/** A goal trigger must name a goal of the site (422 on `trigger.goal_name` otherwise). */
const requireTriggerGoal = (tx: Queryable, siteId: string, trigger: AlertTrigger) =>
  requireGoals(
    tx,
    siteId,
    'goal_name' in trigger ? [{ field: 'trigger.goal_name', name: trigger.goal_name }] : [],
  );

interface FiringRow {
  id: string;
  alert_id: string;
  alert_name: string;
  fired_at: Date;
  value: number | null;
  window_start: Date | null;
  window_end: Date | null;
  event_id: string | null;
  subject: string;
  message: string;
}

/**
 * Alerts: a goal completion or a metric crossing a threshold, evaluated by the worker, which records
 * each firing in the history and sends `alert.triggered` webhooks.
 */
export const alertRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, ctx) => {
  app.authenticateRoutes();

  app.get(
    '/',
    {
      schema: {
        tags: ['alerts'],
        summary: "The site's alerts",
        security: bearerAuth,
        params: siteParams,
        querystring: noQuery,
        response: { 200: dataOf(alertSchema.array()), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('alerts:read'),
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const { rows } = await ctx.pool.query<AlertRow>(
        `SELECT ${COLUMNS} FROM alerts WHERE site_id = $1 ORDER BY created_at, id`,
        [site.id],
      );
      return { data: rows.map(toResponse) };
    },
  );

  app.get(
    '/history',
    {
      schema: {
        tags: ['alerts'],
        summary: "The site's alert firings, newest first",
        security: bearerAuth,
        params: siteParams,
        querystring: alertHistoryQuery,
        response: { 200: dataOf(alertFiring.array()), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('alerts:read'),
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const { alert_id: alertId, limit } = req.query;
      if (alertId) {
        const { rowCount } = await ctx.pool.query('SELECT 1 FROM alerts WHERE id = $1 AND site_id = $2', [
          alertId,
          site.id,
        ]);
        if (rowCount === 0) throw new ApiError('not_found', 'no such alert');
      }
      const { rows } = await ctx.pool.query<FiringRow>(
        `SELECT h.id, h.alert_id, a.name AS alert_name, h.fired_at, h.value, h.window_start, h.window_end,
                h.event_id, h.subject, h.message
           FROM alert_history h JOIN alerts a ON a.id = h.alert_id
          WHERE h.site_id = $1 AND ($2::uuid IS NULL OR h.alert_id = $2)
          ORDER BY h.fired_at DESC, h.id
          LIMIT $3`,
        [site.id, alertId ?? null, limit],
      );
      return {
        data: rows.map((h) => ({
          id: h.id,
          alert_id: h.alert_id,
          alert_name: h.alert_name,
          fired_at: h.fired_at.toISOString(),
          value: h.value,
          window:
            h.window_start && h.window_end
              ? { from: h.window_start.toISOString(), to: h.window_end.toISOString() }
              : null,
          event_id: h.event_id,
          subject: h.subject,
          message: h.message,
        })),
      };
    },
  );

  app.post(
    '/',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Add an alert',
        description:
          'trigger is {goal_name} (fires when that goal completes) or {metric: visitors|pageviews|events, window_minutes, op: gt|lt, value}.',
        security: bearerAuth,
        params: siteParams,
        body: createAlertBody,
        response: {
          201: dataOf(alertSchema),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, ...BODY_ERRORS),
        },
      },
      preHandler: requireSiteAccess('alerts:write'),
    },
    async (req, reply) => {
      const access = siteAccessOf(req);
      const principal = userPrincipalOf(access);
      const body = req.body;
      const created = await withTransaction(ctx.pool, async (tx) => {
        await requireTriggerGoal(tx, access.site.id, body.trigger);
        const { rows } = await tx.query<AlertRow>(
          `INSERT INTO alerts (site_id, name, trigger, template, is_enabled, cooldown_minutes, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
          [
            access.site.id,
            body.name,
            JSON.stringify(body.trigger),
            JSON.stringify(body.template),
            body.is_enabled ?? true,
            body.cooldown_minutes ?? DEFAULT_COOLDOWN_MINUTES,
            principal.user.id,
          ],
        );
        const row = rows[0]!;
        await recordActivity(tx, {
          accountId: access.site.account_id,
          actor: actorOf(principal),
          action: 'alert.created',
          resourceType: 'alert',
          resourceId: row.id,
          siteId: access.site.id,
          metadata: { name: row.name, trigger: row.trigger },
        });
        return row;
      });
      return reply.code(201).send({ data: toResponse(created) });
    },
  );

  app.put(
    '/:id',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Change any of name, trigger, template, is_enabled, cooldown_minutes',
        description: 'Fields left out are kept.',
        security: bearerAuth,
        params: alertParams,
        body: updateAlertBody,
        response: {
          200: dataOf(alertSchema),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, ...BODY_ERRORS),
        },
      },
      preHandler: requireSiteAccess('alerts:write'),
    },
    async (req) => {
      const access = siteAccessOf(req);
      const principal = userPrincipalOf(access);
      const updated = await withTransaction(ctx.pool, async (tx) => {
        const { rows } = await tx.query<AlertRow>(
          `SELECT ${COLUMNS} FROM alerts WHERE id = $1 AND site_id = $2 FOR UPDATE`,
          [req.params.id, access.site.id],
        );
        const old = rows[0];
        if (!old) throw new ApiError('not_found', 'no such alert');
        if (req.body.trigger) await requireTriggerGoal(tx, access.site.id, req.body.trigger);
        const next = {
          name: req.body.name ?? old.name,
          trigger: req.body.trigger ?? old.trigger,
          template: req.body.template ?? old.template,
          is_enabled: req.body.is_enabled ?? old.is_enabled,
          cooldown_minutes: req.body.cooldown_minutes ?? old.cooldown_minutes,
        };
        const changed = (Object.keys(next) as Array<keyof typeof next>).filter(
          (k) => !sameJson(next[k], old[k]),
        );
        if (changed.length === 0) return old;
        const { rows: saved } = await tx.query<AlertRow>(
          `UPDATE alerts
              SET name = $2, trigger = $3, template = $4, is_enabled = $5, cooldown_minutes = $6, updated_at = now()
            WHERE id = $1 RETURNING ${COLUMNS}`,
          [
            old.id,
            next.name,
            JSON.stringify(next.trigger),
            JSON.stringify(next.template),
            next.is_enabled,
            next.cooldown_minutes,
          ],
        );
        await recordActivity(tx, {
          accountId: access.site.account_id,
          actor: actorOf(principal),
          action: 'alert.updated',
          resourceType: 'alert',
          resourceId: old.id,
          siteId: access.site.id,
          metadata: { name: next.name, changed },
        });
        return saved[0]!;
      });
      return { data: toResponse(updated) };
    },
  );

  app.delete(
    '/:id',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Delete an alert and its history',
        security: bearerAuth,
        params: alertParams,
        querystring: noQuery,
        response: { 200: dataOf(deletedBody), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('alerts:write'),
    },
    async (req) => {
      const access = siteAccessOf(req);
      await withTransaction(ctx.pool, async (tx) => {
        const { rows } = await tx.query<{ id: string; name: string }>(
          'DELETE FROM alerts WHERE id = $1 AND site_id = $2 RETURNING id, name',
          [req.params.id, access.site.id],
        );
        const row = rows[0];
        if (!row) throw new ApiError('not_found', 'no such alert');
        await recordActivity(tx, {
          accountId: access.site.account_id,
          actor: actorOf(userPrincipalOf(access)),
          action: 'alert.deleted',
          resourceType: 'alert',
          resourceId: row.id,
          siteId: access.site.id,
          metadata: { name: row.name },
        });
      });
      return { data: { deleted: true as const } };
    },
  );
};
