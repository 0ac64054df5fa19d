import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';

/**
 * docker-compose.yml cannot run on our machines (no Docker engine), so it is checked here: it
 * parses, each service's environment names only variables its config schema knows, and that
 * environment passes the schema, so a renamed variable cannot silently drift from the compose file.
 */
const file = fileURLToPath(new URL('../docker-compose.yml', import.meta.url));

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number>;
  healthcheck?: unknown;
  restart?: string;
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(readFileSync(file, 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};

/** `${VAR:-default}` → default, `${VAR:?msg}` → a placeholder, as compose would with a .env file. */
function interpolate(value: string | number): string {
  return String(value).replace(/\$\{(\w+)(?::?[-?]([^}]*))?\}/g, (_m, name: string, fallback?: string) =>
    name.endsWith('SECRET') ? 'x'.repeat(40) : (fallback ?? ''),
  );
}

const schemas: Record<string, () => Promise<z.ZodObject>> = {
  ingest: async () => (await import('../services/ingest/src/config')).ingestEnv,
  worker: async () => (await import('../services/worker/src/config')).workerEnv,
  api: async () => (await import('../services/api/src/config')).apiEnvSchema,
  consumer: async () => (await import('../services/consumer/src/config')).consumerEnv,
};

describe('docker-compose.yml', () => {
  it('runs every engine from its official image with a healthcheck and a restart policy', () => {
    const images = Object.fromEntries(Object.entries(compose.services).map(([n, s]) => [n, s.image ?? '']));
    expect(images.kafka).toMatch(/^apache\/kafka:/);
    expect(images.clickhouse).toMatch(/^clickhouse\/clickhouse-server:/);
    expect(images.redis).toMatch(/^redis:/);
    expect(images.postgres).toMatch(/^postgres:/);
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.healthcheck, `${name} healthcheck`).toBeTruthy();
      expect(service.restart, `${name} restart`).toBe('unless-stopped');
    }
    expect(compose.services.redis!.command).toEqual(
      expect.arrayContaining(['--maxmemory-policy', 'noeviction']),
    );
  });

  it('has one container per service, each starting its own entrypoint after the engines are healthy', () => {
    for (const name of ['api', 'ingest', 'consumer', 'worker']) {
      const service = compose.services[name];
      expect(service, name).toBeDefined();
      expect(service!.command?.join(' ')).toContain(`services/${name}/src/main.ts`);
      for (const engine of ['kafka', 'clickhouse', 'postgres', 'redis']) {
        expect(service!.depends_on?.[engine]?.condition).toBe('service_healthy');
      }
    }
  });

  for (const [name, load] of Object.entries(schemas)) {
    it(`gives ${name} only variables its config schema knows, and valid values`, async () => {
      const schema = await load();
      const env = Object.fromEntries(
        Object.entries(compose.services[name]?.environment ?? {}).map(([k, v]) => [k, interpolate(v)]),
      );
      const known = new Set(Object.keys(schema.shape));
      expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
      const parsed = schema.safeParse(env);
      expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    });
  }
});
