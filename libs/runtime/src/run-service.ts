import type { Logger } from 'pino';
import type { Component } from './component';
import { withTimeout } from './component';

export interface ServiceHandle {
  /** Components in shutdown order: stop taking work first (http, consumers), then producers, then clients. */
  components: Component[];
}

export interface RunServiceOptions {
  name: string;
  logger: Logger;
  shutdownTimeoutMs: number;
  start: (ctx: { isShuttingDown: () => boolean }) => Promise<ServiceHandle>;
}

/**
 * Starts a service and owns its lifecycle: SIGTERM/SIGINT close every component in order, each
 * step guarded so one failure does not skip the rest, under an unref'd hard deadline.
 */
export async function runService(opts: RunServiceOptions): Promise<void> {
  const { logger } = opts;
  let shuttingDown = false;
  let handle: ServiceHandle | undefined;

  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: opts.shutdownTimeoutMs }, 'shutdown deadline passed, exiting');
      process.exit(1);
    }, opts.shutdownTimeoutMs);
    deadline.unref();
    let failed = false;
    for (const component of handle?.components ?? []) {
      if (!component.onShutdown) continue;
      try {
        await withTimeout(
          component.onShutdown(),
          opts.shutdownTimeoutMs,
          `${component.name} did not close in time`,
        );
        logger.debug({ component: component.name }, 'closed');
      } catch (err) {
        failed = true;
        logger.error({ err, component: component.name }, 'error while closing');
      }
    }
    logger.info('stopped');
    logger.flush?.();
    process.exit(failed ? 1 : 0);
  };

  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled rejection');
  });

  try {
    handle = await opts.start({ isShuttingDown: () => shuttingDown });
  } catch (err) {
    logger.fatal({ err }, `${opts.name} failed to start`);
    for (const component of handle?.components ?? []) await component.onShutdown?.().catch(() => {});
    process.exit(1);
  }
}
