import { dataOf, noQuery, shareToken, shareTokenParams } from '@tidemark/api-schemas';
import { ApiError } from '@tidemark/http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ShareTokens } from '../auth/share-token';
import { findPublicSite } from '../sites/sites.store';
import { errorResponses, type RouteContext } from './context';

export interface ShareRouteOptions extends RouteContext {
  shares: ShareTokens;
}

/**
 * Public dashboards: a site whose `public_stats` is on hands anyone a short-lived token that reads
 * its stats through the ordinary stats routes, and nothing else (see auth.plugin.ts). No token
 * needed; the per-IP limit of /api/v1 applies. A private site and an unknown one answer the same
 * 404, so the route does not tell which site keys exist.
 */
export const shareRoutes: FastifyPluginAsyncZod<ShareRouteOptions> = async (app, ctx) => {
  app.get(
    '/:site_key/token',
    {
      schema: {
        tags: ['share'],
        summary: "A token to read a public site's stats (stats:read on that site only)",
        description:
          'Only while the site has public_stats on; the token stops working as soon as it is turned off.',
        params: shareTokenParams,
        querystring: noQuery,
        response: { 200: dataOf(shareToken), ...errorResponses(400, 404, 429) },
      },
    },
    async (req, reply) => {
      const site = await findPublicSite(ctx.pool, req.params.site_key);
      if (!site) throw new ApiError('not_found', 'no public dashboard for this site');
      const issued = await ctx.shares.issue(site.id);
      reply.header('cache-control', 'no-store');
      return {
        data: {
          token: issued.token,
          expires_at: issued.expiresAt.toISOString(),
          site: { site_key: site.site_key, domain: site.domain, name: site.name, timezone: site.timezone },
        },
      };
    },
  );
};
