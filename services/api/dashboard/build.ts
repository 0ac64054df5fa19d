import { fileURLToPath } from 'node:url';
import { build } from 'vite';

/**
 * Builds the dashboard as `npm run build:dashboard -w @tidemark/api-service` does, from code (the
 * tests): into `dist/` unless told otherwise, optionally with Vite's manifest (`manifest.json`).
 */
export async function buildDashboard(opts: { outDir?: string; manifest?: boolean } = {}): Promise<void> {
  // Under vitest NODE_ENV is "test", with which Vite and the Preact preset build for development
  // (devtools hooks included); the dashboard ships the production build.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: fileURLToPath(new URL('./vite.config.ts', import.meta.url)),
      logLevel: 'warn',
      build: {
        ...(opts.outDir ? { outDir: opts.outDir, emptyOutDir: true } : {}),
        ...(opts.manifest ? { manifest: 'manifest.json' } : {}),
      },
    });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
}
