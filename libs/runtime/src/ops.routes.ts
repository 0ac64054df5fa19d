import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { checkReadiness, type Component } from './component';

export interface OpsRoutesOptions {
  components: () => Component[];
  registry: Registry;
  /** Flipped to true on SIGTERM so load balancers stop sending work before the server closes. */
  isShuttingDown: () => boolean;
}

/** `/healthz` (alive), `/readyz` (dependencies usable, failing ones named), `/metrics` (Prometheus). */
export function registerOpsRoutes(app: FastifyInstance, opts: OpsRoutesOptions): void {
  app.get('/healthz', { logLevel: 'silent' }, async () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel: 'silent' }, async (_req, reply) => {
    if (opts.isShuttingDown()) {
      return reply.code(503).send({
        status: 'shutting_down',
        error: { code: 'unavailable', message: 'the process is shutting down' },
      });
    }
    const report = await checkReadiness(opts.components());
    if (report.ready) return { status: 'ready', checks: report.checks };
    const failing = Object.entries(report.checks)
      .filter(([, c]) => !c.ok && c.critical)
      .map(([name, c]) => `${name}: ${c.error}`);
    return reply.code(503).send({
      status: 'not_ready',
      checks: report.checks,
      error: { code: 'unavailable', message: `dependency not ready: ${failing.join('; ')}` },
    });
  });

  app.get('/metrics', { logLevel: 'silent' }, async (_req, reply) => {
    reply.header('content-type', opts.registry.contentType);
    return opts.registry.metrics();
  });
}
