import { generateSiteKey } from '@tidemark/auth';
import {
  createSiteBody,
  dataOf,
  deletedBody,
  noQuery,
  site as siteSchema,
  siteParams,
  updateSiteBody,
} from '@tidemark/api-schemas';
import { ApiError } from '@tidemark/http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { recordActivity } from '../activity';
import { requireSiteAccess, siteAccessOf } from '../auth/auth.plugin';
import { userPrincipalOf } from '../auth/site-access';
import { actorOf, insufficientScope, requirePermission, type UserPrincipal } from '../auth/principal';
import { isUniqueViolation, withTransaction } from '../db';
import {
  deleteSite,
  insertSite,
  listSitesForUser,
  toSiteResponse,
  updateSite,
  type SiteChanges,
  type SiteRow,
} from '../sites/sites.store';
import { AUTHENTICATED_ERRORS, bearerAuth, BODY_ERRORS, errorResponses, type RouteContext } from './context';

const domainConflict = (domain: string) =>
  new ApiError('conflict', `this account already tracks ${domain}`, {
    domain: ['is already tracked by this account'],
  });

export const siteRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, ctx) => {
  app.authenticateRoutes();

  const withEvents = async (site: SiteRow) => {
    const counts = await ctx.analytics.eventsThisMonth([site.id]);
    return toSiteResponse(site, counts ? (counts.get(site.id) ?? 0) : null);
  };

  app.get(
    '/',
    {
      schema: {
        tags: ['sites'],
        summary: 'The sites the caller can see',
        security: bearerAuth,
        querystring: noQuery,
        response: { 200: dataOf(siteSchema.array()), ...errorResponses(...AUTHENTICATED_ERRORS) },
      },
    },
    async (req) => {
      const principal = requirePermission(req.principal, 'sites:read');
      const sites = await ctx.siteLists.list(principal.user, principal.siteIds, () =>
        listSitesForUser(ctx.pool, principal.user, principal.siteIds),
      );
      const counts = await ctx.analytics.eventsThisMonth(sites.map((s) => s.id));
      return { data: sites.map((s) => toSiteResponse(s, counts ? (counts.get(s.id) ?? 0) : null)) };
    },
  );

  app.post(
    '/',
    {
      schema: {
        tags: ['sites'],
        summary: "Add a site to the caller's account",
        security: bearerAuth,
        body: createSiteBody,
        response: {
          201: dataOf(siteSchema),
          ...errorResponses(...AUTHENTICATED_ERRORS, 409, ...BODY_ERRORS),
        },
      },
    },
    async (req, reply) => {
      const principal = requirePermission(req.principal, 'sites:write');
      if (principal.siteIds) {
        throw insufficientScope('a token restricted to some sites cannot create sites', 'sites:write');
      }
      const body = req.body;
      const site = await createSite(principal, {
        domain: body.domain,
        name: body.name,
        timezone: body.timezone ?? 'UTC',
        publicStats: body.public_stats ?? false,
        currency: body.currency ?? 'USD',
        settings: {
          excluded_ips: body.settings?.excluded_ips ?? [],
          excluded_paths: body.settings?.excluded_paths ?? [],
          excluded_countries: body.settings?.excluded_countries ?? [],
          allowed_hostnames: body.settings?.allowed_hostnames ?? [],
        },
      });
      await ctx.siteRules.invalidate(site.site_key);
      await ctx.caches.invalidate();
      // A new id has no events yet: no need to ask ClickHouse.
      return reply.code(201).send({ data: toSiteResponse(site, 0) });
    },
  );

  async function createSite(
    principal: UserPrincipal,
    input: Omit<Parameters<typeof insertSite>[1], 'accountId' | 'siteKey' | 'createdBy'>,
  ): Promise<SiteRow> {
    try {
      return await withTransaction(ctx.pool, async (tx) => {
        for (let attempt = 0; ; attempt++) {
          try {
            await tx.query('SAVEPOINT create_site');
            const site = await insertSite(tx, {
              ...input,
              accountId: principal.user.accountId,
              siteKey: generateSiteKey(),
              createdBy: principal.user.id,
            });
            await recordActivity(tx, {
              accountId: site.account_id,
              actor: actorOf(principal),
              action: 'site.created',
              resourceType: 'site',
              resourceId: site.id,
              siteId: site.id,
              metadata: { domain: site.domain, name: site.name },
            });
            return site;
          } catch (err) {
            // A site_key collision (120 random bits) is astronomically rare; draw another.
            if (attempt < 3 && isUniqueViolation(err, 'sites_site_key_key')) {
              await tx.query('ROLLBACK TO SAVEPOINT create_site');
              continue;
            }
            throw err;
          }
        }
      });
    } catch (err) {
      if (isUniqueViolation(err, 'sites_account_domain_key')) throw domainConflict(input.domain);
      throw err;
    }
  }

  app.get(
    '/:site',
    {
      schema: {
        tags: ['sites'],
        summary: 'One site, by id or site_key',
        security: bearerAuth,
        params: siteParams,
        querystring: noQuery,
        response: { 200: dataOf(siteSchema), ...errorResponses(...AUTHENTICATED_ERRORS, 404) },
      },
      preHandler: requireSiteAccess('sites:read'),
    },
    async (req) => ({ data: await withEvents(siteAccessOf(req).site) }),
  );

  app.patch(
    '/:site',
    {
      schema: {
        tags: ['sites'],
        summary: 'Change any of name, domain, timezone, public_stats, currency, settings',
        description: 'Each settings list given replaces that list; lists left out are kept.',
        security: bearerAuth,
        params: siteParams,
        body: updateSiteBody,
        response: {
          200: dataOf(siteSchema),
          ...errorResponses(...AUTHENTICATED_ERRORS, 404, 409, ...BODY_ERRORS),
        },
      },
      preHandler: requireSiteAccess('sites:write'),
    },
    async (req) => {
      const access = siteAccessOf(req);
      const principal = userPrincipalOf(access);
      const { settings, ...fields } = req.body;
      const changes: SiteChanges = { ...fields, ...settings };
      const changed = Object.keys(changes).filter(
        (k) =>
          JSON.stringify(changes[k as keyof SiteChanges]) !== JSON.stringify(access.site[k as keyof SiteRow]),
      );
      let site: SiteRow;
      try {
        site = await withTransaction(ctx.pool, async (tx) => {
          const updated = await updateSite(tx, access.site.id, changes);
          if (changed.length) {
            await recordActivity(tx, {
              accountId: updated.account_id,
              actor: actorOf(principal),
              action: 'site.updated',
              resourceType: 'site',
              resourceId: updated.id,
              siteId: updated.id,
              metadata: { changed },
            });
          }
          return updated;
        });
      } catch (err) {
        if (isUniqueViolation(err, 'sites_account_domain_key')) throw domainConflict(changes.domain ?? '');
        throw err;
      }
      if (changed.length) {
        await ctx.siteRules.invalidate(site.site_key);
        await ctx.caches.invalidate();
      }
      return { data: await withEvents(site) };
    },
  );

  app.delete(
    '/:site',
    {
      schema: {
        tags: ['sites'],
        summary: 'Delete a site and all its analytics data (owner only)',
        security: bearerAuth,
        params: siteParams,
        querystring: noQuery,
        response: { 200: dataOf(deletedBody), ...errorResponses(...AUTHENTICATED_ERRORS, 404, 503) },
      },
      preHandler: requireSiteAccess('sites:write', { ownerOnly: true }),
    },
    async (req) => {
      const access = siteAccessOf(req);
      const { site } = access;
      // Analytics first: if ClickHouse refuses, nothing is deleted and the caller can simply retry.
      // Deleting the metadata first could leave data that no one can reach or delete any more.
      let tables: string[];
      try {
        tables = await ctx.analytics.deleteSiteData(site.id);
      } catch (err) {
        req.log.error({ err, siteId: site.id }, 'could not delete the analytics data of a site');
        throw ApiError.unavailable(
          'the analytics store is unavailable; nothing was deleted, retry later',
          30,
        );
      }
      await withTransaction(ctx.pool, async (tx) => {
        await deleteSite(tx, site.id);
        await recordActivity(tx, {
          accountId: site.account_id,
          actor: actorOf(userPrincipalOf(access)),
          action: 'site.deleted',
          resourceType: 'site',
          resourceId: site.id,
          siteId: site.id,
          metadata: { domain: site.domain, name: site.name, analytics_tables: tables },
        });
      });
      await ctx.siteRules.invalidate(site.site_key);
      // The site's API keys went with it, and it leaves every list it was in.
      await ctx.caches.invalidate();
      return { data: { deleted: true as const } };
    },
  );
};
