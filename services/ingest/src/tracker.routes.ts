import type { FastifyInstance } from 'fastify';
import { buildTracker } from './tracker/build';

/**
 * `GET /js/script.js`: minified once at start. Cached for a day and revalidated by ETag, so a new
 * tracker reaches browsers within a day without a versioned URL in the site owner's snippet;
 * `?v=<etag>` URLs are immutable and cached for a year.
 */
export async function trackerRoutes(app: FastifyInstance): Promise<void> {
  const tracker = await buildTracker();
  const etag = `"${tracker.etag}"`;
  app.get<{ Querystring: { v?: string } }>('/js/script.js', async (req, reply) => {
    reply.header('content-type', 'application/javascript; charset=utf-8');
    reply.header('etag', etag);
    reply.header('access-control-allow-origin', '*');
    reply.header(
      'cache-control',
      req.query.v === tracker.etag
        ? 'public, max-age=31536000, immutable'
        : 'public, max-age=86400, must-revalidate',
    );
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return tracker.code;
  });
}
