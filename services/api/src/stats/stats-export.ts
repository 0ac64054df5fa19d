import { Readable, Transform } from 'node:stream';
import type { Row } from '@clickhouse/client';
import {
  DAILY_EXPORT_METRICS,
  readMetrics,
  type Bucket,
  type ExportQuery,
  type ResolvedPeriod,
  type ResultRow,
} from '@tidemark/stats-query';
import type { SiteRow } from '../sites/sites.store';
import type { ExportFormat } from './stats-reader';

export const CONTENT_TYPES = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
} as const;

/** The ClickHouse output format that already is the file's format, row for row. */
export const CLICKHOUSE_FORMATS: Record<ExportQuery['format'], ExportFormat> = {
  csv: 'CSVWithNames',
  ndjson: 'JSONEachRow',
};

/**
 * `attachment; filename="<domain>-<type>-<from>-<to>.<ext>"`. A domain holds only letters, digits,
 * dots and hyphens (sites refuse anything else), so the name needs no quoting beyond this.
 */
export function contentDisposition(site: SiteRow, q: ExportQuery, period: ResolvedPeriod): string {
  const domain = site.domain.replace(/[^A-Za-z0-9.-]/g, '_');
  return `attachment; filename="${domain}-${q.type}-${period.from}-${period.to}.${q.format}"`;
}

/**
 * Rows as `ResultSet.stream()` hands them over (arrays of rows, each one line of the format) back
 * to bytes: one chunk out per chunk in, so memory holds a chunk or two whatever the export's size,
 * and the stream's backpressure reaches ClickHouse.
 */
export function rowsToLines(): Transform {
  return new Transform({
    writableObjectMode: true,
    transform(rows: Row[], _encoding, done) {
      let text = '';
      for (const row of rows) text += `${row.text}\n`;
      done(null, text);
    },
  });
}

/**
 * `export?type=daily`: every day of the period, zeros included, `date` being the local calendar
 * date. The rows come from one query grouped by day, so at most the period's days are held.
 */
export function dailyLines(
  buckets: readonly Bucket[],
  rows: readonly ResultRow[],
  format: ExportQuery['format'],
): Readable {
  const byDay = new Map(rows.map((r) => [String(r.bucket), r]));
  function* lines() {
    if (format === 'csv') yield `date,${DAILY_EXPORT_METRICS.join(',')}\n`;
    for (const bucket of buckets) {
      const metrics = readMetrics(byDay.get(bucket.key), DAILY_EXPORT_METRICS);
      yield format === 'csv'
        ? `${bucket.key},${DAILY_EXPORT_METRICS.map((m) => metrics[m]).join(',')}\n`
        : `${JSON.stringify({ date: bucket.key, ...metrics })}\n`;
    }
  }
  return Readable.from(lines(), { objectMode: false });
}
