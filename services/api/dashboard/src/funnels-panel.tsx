import { useId } from 'preact/hooks';
import type { Funnel, FunnelStats } from './api-types';
import { stateKey, statsQuery } from './dashboard-state';
import type { DashboardView } from './dashboard-view';
import { ErrorMessage } from './forms';
import { formatNumber } from './format';
import { Link } from './router';
import { useFetch } from './use-fetch';

/** A funnel's steps over the period: who reached each, the share of the first step, and the drop-off. */
export function FunnelsPanel({ view }: { view: DashboardView }) {
  const { client, site, state, query } = view;
  const selectId = useId();
  const funnels = useFetch(
    () =>
      client
        .get<{ data: Funnel[] }>(`/sites/${encodeURIComponent(site.site_key)}/funnels`)
        .then((r) => r.data),
    site.site_key,
  );
  const list = funnels.data ?? [];
  const funnel = list.find((f) => f.id === query.get('funnel')) ?? list[0];
  const stats = useFetch(
    funnel
      ? () =>
          client.get<FunnelStats>('/stats/funnel', {
            site_id: site.site_key,
            funnel_id: funnel.id,
            ...statsQuery(state),
          })
      : null,
    `${funnel?.id}|${stateKey(state)}`,
  );
  return (
    <section class="card panel" aria-labelledby="panel-funnels">
      <div class="card-head">
        <h2 id="panel-funnels">Funnels</h2>
        {list.length > 1 && (
          <div class="inline-field">
            <label for={selectId}>Funnel</label>
            <select
              id={selectId}
              value={funnel?.id}
              onChange={(e) => view.update({ funnel: e.currentTarget.value })}
            >
              {list.map((f) => (
                <option key={f.id} value={f.id}>
                  {f.name}
                </option>
              ))}
            </select>
          </div>
        )}
      </div>
      <ErrorMessage error={funnels.error ?? stats.error} />
      {funnels.data && !funnel && (
        <p class="empty">
          No funnels yet.{' '}
          <Link href={`/sites/${encodeURIComponent(site.site_key)}/settings/funnels`}>Add one</Link>
        </p>
      )}
      {funnel && stats.data && (
        <>
          <p class="muted">
            {funnel.name}: <strong>{stats.data.conversion_rate.toFixed(1)}%</strong> of visitors went through
            every step.
          </p>
          <table class="breakdown funnel">
            <caption class="sr-only">Steps of the funnel {funnel.name}</caption>
            <thead>
              <tr>
                <th scope="col">Step</th>
                <th scope="col" class="num">
                  Visitors
                </th>
                <th scope="col" class="num">
                  Conversion
                </th>
                <th scope="col" class="num">
                  Dropped
                </th>
              </tr>
            </thead>
            <tbody>
              {stats.data.steps.map((step, i) => (
                <tr key={i}>
                  <th scope="row" class="value-cell">
                    <span class="bar" style={{ width: `${step.conversion_rate}%` }} aria-hidden="true" />
                    <span class="row-label">
                      {i + 1}. {step.name}
                    </span>
                  </th>
                  <td class="num">{formatNumber(step.visitors)}</td>
                  <td class="num">{step.conversion_rate.toFixed(1)}%</td>
                  <td class="num">{i === 0 ? '–' : formatNumber(step.drop_off)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
