import { EVENTS_TABLE, type ClickHouse } from '@tidemark/clickhouse';
import type { ThresholdTrigger } from './alerts.repository';

// Fixed expressions chosen by a validated enum: nothing user-provided reaches the SQL text.
const METRIC_SQL: Record<ThresholdTrigger['metric'], string> = {
  visitors: 'uniqExact(visitor_id)',
  pageviews: "countIf(name = 'pageview')",
  events: 'count()',
};

/** The metric over raw events of one site in [from, to). */
export async function measureMetric(
  clickhouse: ClickHouse,
  siteId: string,
  metric: ThresholdTrigger['metric'],
  from: Date,
  to: Date,
): Promise<number> {
  const result = await clickhouse.query({
    query: `SELECT ${METRIC_SQL[metric]} AS value FROM ${EVENTS_TABLE}
             WHERE site_id = {site:UUID}
               AND timestamp >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
               AND timestamp < fromUnixTimestamp64Milli({to:Int64}, 'UTC')`,
    query_params: { site: siteId, from: from.getTime(), to: to.getTime() },
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ value: string | number }>();
  return Number(rows[0]?.value ?? 0);
}
