/**
 * One interface for everything a process owns (a client, a consumer, an HTTP server): the process
 * runner asks each for readiness and closes each on shutdown, in the order given.
 */
export interface Component {
  /** Named in `/readyz` and in shutdown logs: `kafka`, `clickhouse`, `redis`, `postgres`... */
  name: string;
  /** Resolves when the dependency is usable; rejects with a reason otherwise. */
  healthcheck?: () => Promise<void>;
  /** When false, `/readyz` still reports the failure but stays 200 (a degraded, not fatal, dependency). */
  critical?: boolean;
  onShutdown?: () => Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; critical: boolean; error?: string }>;
}

export async function checkReadiness(components: Component[], timeoutMs = 2_000): Promise<ReadinessReport> {
  const entries = await Promise.all(
    components
      .filter((c) => c.healthcheck)
      .map(async (c) => {
        const critical = c.critical !== false;
        try {
          await withTimeout(c.healthcheck!(), timeoutMs, `${c.name} did not answer within ${timeoutMs} ms`);
          return [c.name, { ok: true, critical }] as const;
        } catch (err) {
          return [c.name, { ok: false, critical, error: (err as Error).message || String(err) }] as const;
        }
      }),
  );
  const checks: ReadinessReport['checks'] = Object.fromEntries(entries);
  const ready = Object.values(checks).every((c) => c.ok || !c.critical);
  return { ready, checks };
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
