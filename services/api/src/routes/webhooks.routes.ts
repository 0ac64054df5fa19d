import {
  createdWebhook,
  createWebhookBody,
  dataOf,
  deletedBody,
  delivery as deliverySchema,
  deliveryPage,
  deliveryParams,
  deliveriesQuery,
  emptyBody,
  noQuery,
  siteParams,
  updateWebhookBody,
  webhook as webhookSchema,
  webhookParams,
} from '@tidemark/api-schemas';
import { ApiError } from '@tidemark/http';
import {
  checkWebhookUrl,
  createTestDelivery,
  generateWebhookSecret,
  type WebhookEventType,
  type WebhookPayload,
} from '@tidemark/webhooks';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { recordActivity } from '../activity';
import { requireSiteAccess, siteAccessOf } from '../auth/auth.plugin';
import { actorOf } from '../auth/principal';
import { userPrincipalOf } from '../auth/site-access';
import { iso, withTransaction, type Queryable } from '../db';
import { AUTHENTICATED_ERRORS, bearerAuth, BODY_ERRORS, errorResponses, type RouteContext } from './context';

interface SubscriptionRow {
  id: string;
  site_id: string;
  url: string;
  events: WebhookEventType[];
  description: string | null;
  is_enabled: boolean;
  failing_since: Date | null;
  disabled_at: Date | null;
  disabled_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Never the secret: it is shown once, in the create answer. */
const COLUMNS = `id, site_id, url, events, description, is_enabled, failing_since, disabled_at, disabled_reason,
  created_at, updated_at`;

const toResponse = (s: SubscriptionRow) => ({
  id: s.id,
  site_id: s.site_id,
  url: s.url,
  events: s.events,
  description: s.description,
  is_enabled: s.is_enabled,
  failing_since: iso(s.failing_since),
  disabled_at: iso(s.disabled_at),
  disabled_reason: s.disabled_reason,
  created_at: s.created_at.toISOString(),
  updated_at: s.updated_at.toISOString(),
});

interface DeliveryRow {
  id: string;
  event_type: string;
  status: 'pending' | 'retrying' | 'succeeded' | 'failed';
  is_test: boolean;
  payload: WebhookPayload;
  next_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  completed_at: Date | null;
}

interface AttemptRow {
  delivery_id: string;
  attempt: number;
  status_code: number | null;
  latency_ms: number;
  response_excerpt: string | null;
  error: string | null;
  manual: boolean;
  at: Date;
}

const DELIVERY_COLUMNS = `d.id, d.event_type, d.status, d.is_test, d.payload, d.next_attempt_at, d.last_status_code,
  d.last_error, d.created_at, d.completed_at`;

/** Deliveries as the API shows them, each with its attempts (oldest first). */
async function withAttempts(db: Queryable, deliveries: DeliveryRow[]) {
  const { rows } = await db.query<AttemptRow>(
    `SELECT delivery_id, attempt, status_code, latency_ms, response_excerpt, error, manual, at
       FROM webhook_delivery_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt`,
    [deliveries.map((d) => d.id)],
  );
  const attempts = new Map<string, AttemptRow[]>();
  for (const a of rows) attempts.set(a.delivery_id, [...(attempts.get(a.delivery_id) ?? []), a]);
  return deliveries.map((d) => ({
    id: d.id,
    event_type: d.event_type,
    status: d.status,
    is_test: d.is_test,
    payload: d.payload,
    next_attempt_at: iso(d.next_attempt_at),
    last_status_code: d.last_status_code,
    last_error: d.last_error,
    created_at: d.created_at.toISOString(),
    completed_at: iso(d.completed_at),
    attempts: (attempts.get(d.id) ?? []).map((a) => ({
      attempt: a.attempt,
      status_code: a.status_code,
      latency_ms: a.latency_ms,
      response_excerpt: a.response_excerpt,
      error: a.error,
      manual: a.manual,
      at: a.at.toISOString(),
    })),
  }));
}

/** The activity log keeps the host only: webhook URLs often carry a token in their path or query. */
const hostOf = (url: string) => new URL(url).host;

/**
 * Webhook subscriptions, their deliveries, test sends and redeliveries. The worker sends and
 * retries; these routes create rows and enqueue jobs for it.
 */
export const webhookRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, ctx) => {
  app.authenticateRoutes();

  /** The policy the worker applies again to every resolved address when it connects. */
  const refuseTarget = (url: string) => {
    const problem = checkWebhookUrl(url, { allowPrivateTargets: ctx.config.WEBHOOK_ALLOW_PRIVATE_TARGETS });
    if (problem) throw ApiError.validation({ url: [problem] });
  };

  const findSubscription = async (db: Queryable, siteId: string, id: string, lock = false) => {
    const { rows } = await db.query<SubscriptionRow>(
      `SELECT ${COLUMNS} FROM webhook_subscriptions WHERE id = $1 AND site_id = $2${lock ? ' FOR UPDATE' : ''}`,
      [id, siteId],
    );
    const row = rows[0];
    if (!row) throw new ApiError('not_found', 'no such webhook');
    return row;
  };

  const loadDelivery = async (id: string) => {
    const { rows } = await ctx.pool.query<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.id = $1`,
      [id],
    );
    const [shown] = await withAttempts(ctx.pool, rows);
    return shown!;
  };

  app.get(
    '/',
    {
      schema: {
        tags: ['webhooks'],
        summary: "The site's webhook subscriptions (never their secrets)",
        security: bearerAuth,
        params: siteParams,
        querystring: noQuery,
        response: { 200: dataOf(webhookSchema.array()), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('webhooks:read'),
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const { rows } = await ctx.pool.query<SubscriptionRow>(
        `SELECT ${COLUMNS} FROM webhook_subscriptions WHERE site_id = $1 ORDER BY created_at, id`,
        [site.id],
      );
      return { data: rows.map(toResponse) };
    },
  );

  app.post(
    '/',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Subscribe a URL to event types; the signing secret is in this answer only',
        description:
          'Event types: pageview, event (custom events; both in batches of up to 100 in data.events), goal.completed, alert.triggered. Deliveries are signed the Standard Webhooks way.',
        security: bearerAuth,
        params: siteParams,
        body: createWebhookBody,
        response: {
          201: dataOf(createdWebhook),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, ...BODY_ERRORS),
        },
      },
      preHandler: requireSiteAccess('webhooks:write'),
    },
    async (req, reply) => {
      const access = siteAccessOf(req);
      const principal = userPrincipalOf(access);
      const body = req.body;
      refuseTarget(body.url);
      const secret = generateWebhookSecret();
      const created = await withTransaction(ctx.pool, async (tx) => {
        const { rows } = await tx.query<SubscriptionRow>(
          `INSERT INTO webhook_subscriptions (site_id, url, events, description, is_enabled, secret, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
          [
            access.site.id,
            body.url,
            body.events,
            body.description ?? null,
            body.is_enabled ?? true,
            secret,
            principal.user.id,
          ],
        );
        const row = rows[0]!;
        await recordActivity(tx, {
          accountId: access.site.account_id,
          actor: actorOf(principal),
          action: 'webhook.created',
          resourceType: 'webhook',
          resourceId: row.id,
          siteId: access.site.id,
          metadata: { host: hostOf(row.url), events: row.events },
        });
        return row;
      });
      await app.siteConfig.changed(access.site.id);
      return reply.code(201).send({ data: { ...toResponse(created), secret } });
    },
  );

  app.put(
    '/:id',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Change any of url, events, description, is_enabled',
        description:
          'Fields left out are kept. Enabling a subscription the worker disabled clears disabled_at, disabled_reason and failing_since; a new URL starts with a clean failure record too.',
        security: bearerAuth,
        params: webhookParams,
        body: updateWebhookBody,
        response: {
          200: dataOf(webhookSchema),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, ...BODY_ERRORS),
        },
      },
      preHandler: requireSiteAccess('webhooks:write'),
    },
    async (req) => {
      const access = siteAccessOf(req);
      const principal = userPrincipalOf(access);
      const body = req.body;
      if (body.url !== undefined) refuseTarget(body.url);
      const { row, changed } = await withTransaction(ctx.pool, async (tx) => {
        const old = await findSubscription(tx, access.site.id, req.params.id, true);
        const next = {
          url: body.url ?? old.url,
          events: body.events ?? old.events,
          description: body.description === undefined ? old.description : body.description,
          is_enabled: body.is_enabled ?? old.is_enabled,
        };
        const changed = (Object.keys(next) as Array<keyof typeof next>).filter(
          (k) => JSON.stringify(next[k]) !== JSON.stringify(old[k]),
        );
        if (changed.length === 0) return { row: old, changed };
        // Turned back on, or pointed elsewhere: the worker's failure record is about the old state.
        const fresh = (next.is_enabled && !old.is_enabled) || next.url !== old.url;
        const { rows } = await tx.query<SubscriptionRow>(
          `UPDATE webhook_subscriptions
              SET url = $2, events = $3, description = $4, is_enabled = $5, updated_at = now(),
                  failing_since = CASE WHEN $6::boolean THEN NULL ELSE failing_since END,
                  disabled_at = CASE WHEN $5::boolean THEN NULL ELSE disabled_at END,
                  disabled_reason = CASE WHEN $5::boolean THEN NULL ELSE disabled_reason END
            WHERE id = $1 RETURNING ${COLUMNS}`,
          [old.id, next.url, next.events, next.description, next.is_enabled, fresh],
        );
        await recordActivity(tx, {
          accountId: access.site.account_id,
          actor: actorOf(principal),
          action: 'webhook.updated',
          resourceType: 'webhook',
          resourceId: old.id,
          siteId: access.site.id,
          metadata: { host: hostOf(next.url), changed },
        });
        return { row: rows[0]!, changed };
      });
      if (changed.length > 0) await app.siteConfig.changed(access.site.id);
      return { data: toResponse(row) };
    },
  );

  app.delete(
    '/:id',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Delete a subscription with its deliveries; queued attempts are dropped',
        security: bearerAuth,
        params: webhookParams,
        querystring: noQuery,
        response: { 200: dataOf(deletedBody), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('webhooks:write'),
    },
    async (req) => {
      const access = siteAccessOf(req);
      await withTransaction(ctx.pool, async (tx) => {
        const { rows } = await tx.query<{ id: string; url: string }>(
          'DELETE FROM webhook_subscriptions WHERE id = $1 AND site_id = $2 RETURNING id, url',
          [req.params.id, access.site.id],
        );
        const row = rows[0];
        if (!row) throw new ApiError('not_found', 'no such webhook');
        await recordActivity(tx, {
          accountId: access.site.account_id,
          actor: actorOf(userPrincipalOf(access)),
          action: 'webhook.deleted',
          resourceType: 'webhook',
          resourceId: row.id,
          siteId: access.site.id,
          metadata: { host: hostOf(row.url) },
        });
      });
      await app.siteConfig.changed(access.site.id);
      return { data: { deleted: true as const } };
    },
  );

  app.post(
    '/:id/test',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Send a webhook.test event now, whatever the subscribed types (disabled ones too)',
        security: bearerAuth,
        params: webhookParams,
        querystring: noQuery,
        body: emptyBody,
        response: {
          202: dataOf(deliverySchema),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, ...BODY_ERRORS, 503),
        },
      },
      preHandler: requireSiteAccess('webhooks:write'),
    },
    async (req, reply) => {
      const { site } = siteAccessOf(req);
      const subscription = await findSubscription(ctx.pool, site.id, req.params.id);
      const deliveryId = (await createTestDelivery(ctx.pool, subscription.id))!;
      try {
        await app.siteConfig.deliver(deliveryId);
      } catch (err) {
        // Without its job the worker's sweep would send it much later, when no one expects it.
        await ctx.pool.query('DELETE FROM webhook_deliveries WHERE id = $1', [deliveryId]).catch(() => {});
        throw err;
      }
      return reply.code(202).send({ data: await loadDelivery(deliveryId) });
    },
  );

  app.get(
    '/:id/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: "The subscription's deliveries, newest first, with every attempt",
        security: bearerAuth,
        params: webhookParams,
        querystring: deliveriesQuery,
        response: { 200: deliveryPage, ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('webhooks:read'),
    },
    async (req) => {
      const { site } = siteAccessOf(req);
      const subscription = await findSubscription(ctx.pool, site.id, req.params.id);
      const { page_number: page, limit } = req.query;
      const { rows: counted } = await ctx.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM webhook_deliveries WHERE subscription_id = $1',
        [subscription.id],
      );
      const { rows } = await ctx.pool.query<DeliveryRow>(
        `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d
          WHERE d.subscription_id = $1
          ORDER BY d.created_at DESC, d.id DESC
          LIMIT $2 OFFSET $3`,
        [subscription.id, limit, (page - 1) * limit],
      );
      const total = counted[0]!.n;
      return {
        data: await withAttempts(ctx.pool, rows),
        pagination: { page_number: page, limit, total_rows: total, total_pages: Math.ceil(total / limit) },
      };
    },
  );

  app.post(
    '/:id/deliveries/:delivery_id/redeliver',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'One more attempt of a delivery, whatever its status, with the same webhook-id',
        security: bearerAuth,
        params: deliveryParams,
        querystring: noQuery,
        body: emptyBody,
        response: {
          202: dataOf(deliverySchema),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, ...BODY_ERRORS, 503),
        },
      },
      preHandler: requireSiteAccess('webhooks:write'),
    },
    async (req, reply) => {
      const { site } = siteAccessOf(req);
      const { rowCount } = await ctx.pool.query(
        `SELECT 1 FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
          WHERE d.id = $1 AND d.subscription_id = $2 AND s.site_id = $3`,
        [req.params.delivery_id, req.params.id, site.id],
      );
      if (rowCount === 0) throw new ApiError('not_found', 'no such delivery');
      await app.siteConfig.redeliver(req.params.delivery_id);
      return reply.code(202).send({ data: await loadDelivery(req.params.delivery_id) });
    },
  );
};
