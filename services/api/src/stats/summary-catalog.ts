import { loadSummaryCatalog, type SummaryCatalog } from '@tidemark/clickhouse';
import type { FastifyBaseLogger } from 'fastify';
import type { StatsReader } from './stats-reader';

/**
 * How long the process reuses one catalog of closed-month summaries. Loading it costs two small
 * queries (the partitions' parts and the builds); a catalog a second old can name a build whose
 * month has just changed (a late event into a closed month), which then shows a second later, as
 * fresh events do. Superseded builds keep their rows far longer (SUPERSEDED_BUILD_GRACE_MS).
 */
const CATALOG_MAX_AGE_MS = 1_000;

/**
 * The valid closed-month summaries for the stats queries, shared by the process's requests. When
 * ClickHouse cannot say, the answer is no catalog: queries then read every month from its sources
 * and answer the same, only slower.
 */
export function summaryCatalogCache(
  reader: StatsReader,
  maxAgeMs = CATALOG_MAX_AGE_MS,
): (log: FastifyBaseLogger) => Promise<SummaryCatalog | undefined> {
  let current: { loadedAt: number; catalog: Promise<SummaryCatalog | undefined> } | undefined;
  return (log) => {
    const now = Date.now();
    if (!current || now - current.loadedAt >= maxAgeMs) {
      const catalog = loadSummaryCatalog((query) => reader.rows({ query, query_params: {} }, log)).catch(
        (err: unknown) => {
          log.warn({ err }, 'could not load the closed-month summaries; reading months from their sources');
          return undefined;
        },
      );
      current = { loadedAt: now, catalog };
    }
    return current.catalog;
  };
}
