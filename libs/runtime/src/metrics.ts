import { collectDefaultMetrics, Registry } from 'prom-client';

/** A registry per process (not the global one) so tests can build several apps in one process. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'tidemark_' });
  return registry;
}
