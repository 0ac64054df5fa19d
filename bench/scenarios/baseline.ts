import { runLoad, startProcess } from '../lib/load';
import type { Scenario } from '../run';

/**
 * A bare fastify POST route, the yardstick of every HTTP scenario. It has no target of its own; its
 * figure is what the ingest and api ratios divide by, measured again in every run.
 */
export const baseline: Scenario = {
  name: 'baseline',
  description: 'bare fastify POST route (JSON body → 202), one process, autocannon in another process',
  async run() {
    const server = await startProcess('bench/lib/bare-server.ts', { PORT: '0' }, /listening (http:\/\/\S+)/);
    try {
      const url = `${server.match[1]}/api/v1/track`;
      const body = JSON.stringify({
        site_key: 'sk_benchmark00',
        name: 'pageview',
        url: 'https://example.com/a',
      });
      await runLoad({
        url,
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
        durationSeconds: 3,
      });
      const r = await runLoad({
        url,
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
        connections: 50,
        durationSeconds: 10,
      });
      return {
        figures: {
          requests_per_second: Math.round(r.requestsPerSecond),
          latency_p50_ms: r.latencyP50Ms,
          latency_p99_ms: r.latencyP99Ms,
          non_2xx: r.non2xx,
          errors: r.errors,
        },
        ratios: {},
        targets: { non_2xx: 0 },
        targets_met: r.non2xx === 0 && r.errors === 0,
      };
    } finally {
      await server.stop();
    }
  },
};
