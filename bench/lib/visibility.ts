import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouse } from '@tidemark/clickhouse';

/** An event to watch for; `visibleAt` is set (epoch ms) once a query has returned it. */
export interface VisibilityProbe {
  id: string;
  visibleAt?: number;
}

/**
 * Polls ClickHouse for probe events the way the stats API reads (through @clickhouse/client, by
 * site and time range) and stamps each probe when the first answer that holds it arrives. One
 * query at a time, `intervalMs` after the previous answer, for every probe still pending.
 */
export class VisibilityPoller<P extends VisibilityProbe> {
  private readonly pending = new Map<string, P>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly clickhouse: ClickHouse,
    private readonly siteId: string,
    private readonly since: Date,
    readonly intervalMs = 100,
  ) {
    this.loop = this.run();
  }

  add(probe: P): void {
    this.pending.set(probe.id, probe);
  }

  /** Probes not seen yet that match `filter`. */
  pendingCount(filter: (probe: P) => boolean = () => true): number {
    let n = 0;
    for (const p of this.pending.values()) if (filter(p)) n++;
    return n;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const ids = [...this.pending.keys()];
      if (ids.length > 0) {
        try {
          const rs = await this.clickhouse.query({
            query: `SELECT toString(event_id) AS id FROM events
                     WHERE site_id = {site:UUID} AND timestamp >= {since:DateTime64(3, 'UTC')}
                       AND event_id IN {ids:Array(UUID)}`,
            query_params: {
              site: this.siteId,
              since: this.since.toISOString().replace('T', ' ').replace('Z', ''),
              ids,
            },
            format: 'JSONEachRow',
          });
          const rows = await rs.json<{ id: string }>();
          const at = Date.now();
          for (const { id } of rows) {
            const probe = this.pending.get(id);
            if (!probe) continue;
            probe.visibleAt = at;
            this.pending.delete(id);
          }
        } catch (err) {
          console.error(`[bench] probe query failed: ${(err as Error).message}`);
        }
      }
      await sleep(this.intervalMs);
    }
  }
}
