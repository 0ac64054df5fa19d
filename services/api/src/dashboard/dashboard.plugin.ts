import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { Pool } from '@tidemark/db';
import { ApiError } from '@tidemark/http';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { RateLimits } from '../auth/rate-limit';
import { findPublicSite } from '../sites/sites.store';

/** Where `npm run build:dashboard -w @tidemark/api-service` writes the dashboard (Vite). */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/dist', import.meta.url));

export interface DashboardOptions {
  /** The Vite build: `index.html` and `assets/`. */
  dir: string;
  pool: Pool;
  rateLimits: RateLimits;
}

/** Client-side routes of the single-page app: each answers the same index.html. */
const APP_ROUTES = ['/', '/login', '/signup', '/sites', '/sites/*'];

/**
 * The page loads only its own scripts and styles and talks only to this origin: a token in
 * localStorage is safe from any script but ours. (Preact and uPlot set styles through the CSSOM,
 * which needs no 'unsafe-inline'.) The app itself is never framed; public dashboards may be
 * embedded in other sites.
 */
const csp = (frameable: boolean) =>
  [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    ...(frameable ? [] : ["frame-ancestors 'none'"]),
  ].join('; ');

/**
 * Serves the dashboard built by Vite, if it was built: the hashed assets with a long cache (and
 * their gzip/brotli copies when the client takes them), and index.html, never cached, for the
 * app's routes and for `/share/{site_key}` of public sites. Without a build the api serves the API
 * alone and says how to build the dashboard.
 */
export const dashboardPlugin: FastifyPluginAsync<DashboardOptions> = async (
  app,
  { dir, pool, rateLimits },
) => {
  if (!existsSync(join(dir, 'index.html'))) {
    app.log.warn(
      { dir },
      'dashboard not built, serving the API only; build it with `npm run build:dashboard -w @tidemark/api-service`',
    );
    return;
  }
  app.log.info({ dir }, 'serving the dashboard');

  await app.register(fastifyStatic, {
    root: join(dir, 'assets'),
    prefix: '/assets/',
    // Vite puts a content hash in every asset name: a changed file is a new URL.
    maxAge: '365d',
    immutable: true,
    preCompressed: true,
    index: false,
  });

  const sendIndex = (reply: FastifyReply, frameable: boolean) =>
    reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', csp(frameable))
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .sendFile('index.html', dir, { cacheControl: false });

  for (const url of APP_ROUTES) {
    app.get(url, { schema: { hide: true } }, (_req, reply) => sendIndex(reply, false));
  }

  // Checked here too, not only by the token route: a private site's page does not exist at all.
  app.get<{ Params: { site_key: string } }>(
    '/share/:site_key',
    {
      schema: { hide: true },
      onRequest: async (req, reply) => rateLimits.byIp(req.ip, reply),
    },
    async (req, reply) => {
      const site = await findPublicSite(pool, req.params.site_key);
      if (!site) throw new ApiError('not_found', 'no public dashboard for this site');
      return sendIndex(reply, true);
    },
  );
};
