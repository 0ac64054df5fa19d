import { dashboardConfig, dataOf, noQuery } from '@tidemark/api-schemas';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { errorResponses, type RouteContext } from './context';

/** The bits of configuration the dashboard shows (the tracker snippet's origin); public, no token. */
export const configRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, ctx) => {
  app.get(
    '/',
    {
      schema: {
        tags: ['config'],
        summary: 'Public configuration for the dashboard',
        querystring: noQuery,
        response: { 200: dataOf(dashboardConfig), ...errorResponses(400, 429) },
      },
    },
    async () => ({
      data: { ingest_url: ctx.config.PUBLIC_INGEST_URL, signup_open: ctx.config.SIGNUP_OPEN },
    }),
  );
};
