import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { GeoDatabase } from '@tidemark/enrichment';
import { registerErrorHandler } from '@tidemark/http';
import type { Logger } from '@tidemark/logging';
import { registerOpsRoutes, type Component } from '@tidemark/runtime';
import type { IngestConfig } from './config';
import type { EventSink } from './event-sink';
import type { SiteDirectory } from './site-directory';
import { trackerRoutes } from './tracker.routes';
import { trackRoutes } from './track.routes';
import type { VisitorIdentity } from './visitor-identity';

export interface IngestDeps {
  config: Pick<IngestConfig, 'TRUST_PROXY' | 'CORS_ENABLED' | 'EXTRA_BOT_PATTERNS'>;
  logger: Logger;
  registry: Registry;
  sites: SiteDirectory;
  sink: EventSink;
  identity: VisitorIdentity;
  geo: GeoDatabase;
  /** Dependencies `/readyz` checks. */
  components: () => Component[];
  isShuttingDown?: () => boolean;
  now?: () => Date;
}

/** `TRUST_PROXY`: '' (no proxy), 'true' (any hop), or a comma-separated list of proxy IPs/CIDRs. */
function trustProxy(value: string): boolean | string[] {
  const v = value.trim();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  return v.split(',').map((s) => s.trim());
}

export async function buildApp(deps: IngestDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // One log line per beacon would cost more than the beacon; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: trustProxy(deps.config.TRUST_PROXY),
    bodyLimit: 1024 * 1024,
  });
  registerErrorHandler(app);
  if (deps.config.CORS_ENABLED) {
    await app.register(cors, { origin: '*', methods: ['POST', 'GET', 'OPTIONS'], maxAge: 86_400 });
  }
  registerOpsRoutes(app, {
    components: deps.components,
    registry: deps.registry,
    isShuttingDown: deps.isShuttingDown ?? (() => false),
  });
  await app.register(trackRoutes, {
    sites: deps.sites,
    sink: deps.sink,
    identity: deps.identity,
    geo: deps.geo,
    registry: deps.registry,
    extraBotPatterns: deps.config.EXTRA_BOT_PATTERNS,
    now: deps.now ?? (() => new Date()),
  });
  await app.register(trackerRoutes);
  return app;
}
