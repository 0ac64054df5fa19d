export { type Component, checkReadiness, type ReadinessReport, withTimeout } from './component';
export { registerOpsRoutes } from './ops.routes';
export { runService, type ServiceHandle } from './run-service';
export { createMetricsRegistry } from './metrics';
