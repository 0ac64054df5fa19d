import type { Aggregate, Metric } from './api-types';
import { stateKey, statsQuery } from './dashboard-state';
import type { DashboardView } from './dashboard-view';
import { ErrorMessage } from './forms';
import { formatMetric, formatRange, METRIC_LABELS, RATE_METRICS } from './format';
import { useFetch } from './use-fetch';

const HEADLINE: Metric[] = [
  'visitors',
  'visits',
  'pageviews',
  'views_per_visit',
  'bounce_rate',
  'visit_duration',
];
/** More is worse for these. */
const LOWER_IS_BETTER: ReadonlySet<Metric> = new Set(['bounce_rate']);

/** The headline numbers of the period, each with its change from the previous period. */
export function TopStats({ view }: { view: DashboardView }) {
  const { site, state } = view;
  const aggregate = useFetch(
    () =>
      view.client.get<Aggregate>('/stats/aggregate', {
        site_id: site.site_key,
        metrics: HEADLINE.join(','),
        compare: 'previous_period',
        ...statsQuery(state),
      }),
    stateKey(state),
  );
  const data = aggregate.data;
  return (
    <section class="top-stats" aria-labelledby="top-stats-title" aria-busy={aggregate.loading}>
      <h2 id="top-stats-title" class="sr-only">
        Summary
      </h2>
      <ErrorMessage error={aggregate.error} />
      {data && (
        <p class="period-range muted">
          {formatRange(data.period, site.timezone)}
          {data.comparison && <> · compared with {formatRange(data.comparison.period, site.timezone)}</>}
        </p>
      )}
      <dl class="stat-grid">
        {HEADLINE.map((metric) => (
          <div key={metric} class="stat" data-metric={metric}>
            <dt>{METRIC_LABELS[metric]}</dt>
            <dd class="stat-value">{data ? formatMetric(metric, data.metrics[metric]) : '–'}</dd>
            {data?.comparison && (
              <Change
                metric={metric}
                // With no visitor before, every change (rates and durations included) means nothing.
                change={data.comparison.metrics.visitors === 0 ? null : data.comparison.change[metric]}
              />
            )}
          </div>
        ))}
      </dl>
    </section>
  );
}

function Change({ metric, change }: { metric: Metric; change: number | null | undefined }) {
  if (change === undefined) return null;
  // null: the previous period had none, so no percentage exists.
  if (change === null)
    return (
      <dd class="change">
        new<span class="sr-only">: nothing in the previous period</span>
      </dd>
    );
  const unit = RATE_METRICS.has(metric) ? ' pp' : '%';
  const better = LOWER_IS_BETTER.has(metric) ? change < 0 : change > 0;
  const tone = change === 0 ? '' : better ? 'good' : 'bad';
  const arrow = change > 0 ? '↑' : change < 0 ? '↓' : '';
  return (
    <dd class={`change ${tone}`}>
      <span aria-hidden="true">{arrow} </span>
      <span class="sr-only">{change > 0 ? 'up' : change < 0 ? 'down' : 'no change'} </span>
      {Math.abs(change).toLocaleString('en', { maximumFractionDigits: 1 })}
      {unit}
      <span class="sr-only"> from the previous period</span>
    </dd>
  );
}
