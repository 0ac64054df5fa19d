import { useEffect, useId, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Timeseries } from './api-types';
import { intervalsFor, stateKey, statsQuery, type Interval } from './dashboard-state';
import type { DashboardView } from './dashboard-view';
import { ErrorMessage } from './forms';
import { formatBucket, formatNumber } from './format';
import { useFetch } from './use-fetch';

const HEIGHT = 260;
const INTERVAL_LABELS: Record<Interval, string> = {
  hour: 'Hourly',
  day: 'Daily',
  week: 'Weekly',
  month: 'Monthly',
};

/** Visitors and pageviews over the period (uPlot), with the interval choice and a table for screen readers. */
export function VisitorsChart({ view }: { view: DashboardView }) {
  const { site, state } = view;
  const intervals = intervalsFor(state);
  const interval = state.interval ?? intervals[0]!;
  const selectId = useId();
  const series = useFetch(
    () =>
      view.client.get<Timeseries>('/stats/timeseries', {
        site_id: site.site_key,
        metrics: 'visitors,pageviews',
        interval,
        ...statsQuery(state),
      }),
    `${stateKey(state)}|${interval}`,
  );
  return (
    <section class="card chart-card" aria-labelledby="chart-title">
      <div class="card-head">
        <h2 id="chart-title">Visitors and pageviews</h2>
        {intervals.length > 1 && (
          <div class="inline-field">
            <label for={selectId}>Interval</label>
            <select
              id={selectId}
              value={interval}
              onChange={(e) =>
                view.update({
                  interval: e.currentTarget.value === intervals[0] ? null : e.currentTarget.value,
                })
              }
            >
              {intervals.map((i) => (
                <option key={i} value={i}>
                  {INTERVAL_LABELS[i]}
                </option>
              ))}
            </select>
          </div>
        )}
      </div>
      <ErrorMessage error={series.error} />
      {series.data && <Plot data={series.data} timeZone={site.timezone} />}
      {series.data && <ChartTable data={series.data} timeZone={site.timezone} />}
    </section>
  );
}

function Plot({ data, timeZone }: { data: Timeseries; timeZone: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const columns: uPlot.AlignedData = [
    data.results.map((r) => Date.parse(r.date) / 1000),
    data.results.map((r) => r.visitors ?? 0),
    data.results.map((r) => r.pageviews ?? 0),
  ];

  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: el.clientWidth,
      height: HEIGHT,
      // Axis labels in the site's timezone, where the buckets begin.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), timeZone),
      scales: { y: { range: (_u, _min, max) => [0, Math.max(4, max * 1.1)] } },
      series: [
        {
          label: 'Date',
          value: (_u, ts) =>
            ts == null ? '' : formatBucket(new Date(ts * 1000).toISOString(), data.interval, timeZone),
        },
        {
          label: 'Visitors',
          stroke: '#2456c7',
          width: 2,
          fill: 'rgba(36, 86, 199, 0.08)',
          points: { show: false },
        },
        { label: 'Pageviews', stroke: '#b35900', width: 1.5, dash: [6, 4], points: { show: false } },
      ],
      axes: [
        { stroke: '#4b5563', grid: { show: false } },
        { stroke: '#4b5563', grid: { stroke: '#e5e7eb' }, values: (_u, ticks) => ticks.map(formatNumber) },
      ],
    };
    plot.current = new uPlot(opts, columns, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [timeZone, data.interval]);

  useEffect(() => plot.current?.setData(columns), [data]);
  return <div class="plot" ref={box} aria-hidden="true" />;
}

function ChartTable({ data, timeZone }: { data: Timeseries; timeZone: string }) {
  return (
    <details class="chart-table">
      <summary>Show as a table</summary>
      <table>
        <caption class="sr-only">Visitors and pageviews per {data.interval}</caption>
        <thead>
          <tr>
            <th scope="col">
              {data.interval === 'hour' ? 'Hour' : data.interval === 'day' ? 'Day' : 'Period'}
            </th>
            <th scope="col" class="num">
              Visitors
            </th>
            <th scope="col" class="num">
              Pageviews
            </th>
          </tr>
        </thead>
        <tbody>
          {data.results.map((r) => (
            <tr key={r.date}>
              <th scope="row">{formatBucket(r.date, data.interval, timeZone)}</th>
              <td class="num">{formatNumber(r.visitors ?? 0)}</td>
              <td class="num">{formatNumber(r.pageviews ?? 0)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
