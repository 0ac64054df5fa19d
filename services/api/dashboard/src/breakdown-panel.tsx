import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { Breakdown, Metric } from './api-types';
import { singleCountry, stateKey, statsQuery } from './dashboard-state';
import type { DashboardView } from './dashboard-view';
import { ErrorMessage } from './forms';
import { formatMetric, METRIC_LABELS } from './format';
import { useFetch } from './use-fetch';

export interface BreakdownTab {
  /** The breakdown property; also the filter a row click adds, unless `filterKey` says otherwise. */
  property: string;
  label: string;
  /** Header of the value column. */
  column: string;
  metrics: Metric[];
  filterKey?: string;
  /** How a value shows (flags, "Direct / None"). */
  render?: (value: string) => ComponentChildren;
  /** Regions and cities: the API needs exactly one country filter. */
  needsCountry?: boolean;
  /** After a row click, show this tab (a country drills down into its regions). */
  drillTo?: string;
}

const PAGE_SIZE = 10;
const MORE_SIZE = 100;

/**
 * One panel of breakdowns (pages, sources, locations, devices, goals): a tab per property, a
 * table per tab. Clicking a row's value adds it as a filter; the tab shown is in the URL
 * (`tabParam`), like the rest of the state.
 */
export function BreakdownPanel(props: {
  view: DashboardView;
  title: string;
  tabs: BreakdownTab[];
  tabParam: string;
  footer?: ComponentChildren;
}) {
  const { view, tabs, tabParam } = props;
  const tab = tabs.find((t) => t.property === view.query.get(tabParam)) ?? tabs[0]!;
  const headingId = `panel-${tabParam}`;
  return (
    <section class="card panel" aria-labelledby={headingId}>
      <div class="card-head">
        <h2 id={headingId}>{props.title}</h2>
        {tabs.length > 1 && (
          <div class="tabs" role="group" aria-label={`${props.title}: show`}>
            {tabs.map((t, i) => (
              <button
                key={t.property}
                type="button"
                aria-pressed={t === tab}
                onClick={() => view.update({ [tabParam]: i === 0 ? null : t.property })}
              >
                {t.label}
              </button>
            ))}
          </div>
        )}
      </div>
      <BreakdownTable view={view} tab={tab} tabParam={tabParam} />
      {props.footer}
    </section>
  );
}

function BreakdownTable({
  view,
  tab,
  tabParam,
}: {
  view: DashboardView;
  tab: BreakdownTab;
  tabParam: string;
}) {
  const { site, state } = view;
  const blocked = tab.needsCountry && !singleCountry(state);
  const key = `${tab.property}|${stateKey(state)}`;
  // "Show more" holds for what it was asked on: another tab, period or filter starts short again.
  const [expanded, setExpanded] = useState<string | null>(null);
  const limit = expanded === key ? MORE_SIZE : PAGE_SIZE;
  const rows = useFetch(
    blocked
      ? null
      : () =>
          view.client.get<Breakdown>('/stats/breakdown', {
            site_id: site.site_key,
            property: tab.property,
            metrics: tab.metrics.join(','),
            limit,
            ...statsQuery(state),
          }),
    `${key}|${limit}`,
  );
  if (blocked) return <p class="empty">Choose one country first: click it in the Countries tab.</p>;
  const results = rows.data?.property === tab.property ? rows.data.results : [];
  const first = tab.metrics[0]!;
  const max = Math.max(1, ...results.map((r) => r[first] ?? 0));
  const filterKey = tab.filterKey ?? tab.property;
  const addFilter = (value: string) =>
    view.update({ [filterKey]: value, ...(tab.drillTo ? { [tabParam]: tab.drillTo } : {}) });

  return (
    <div aria-busy={rows.loading}>
      <ErrorMessage error={rows.error} />
      {rows.loading && !rows.data && <p class="empty">Loading…</p>}
      {!rows.loading && !rows.error && results.length === 0 && <p class="empty">Nothing in this period.</p>}
      {results.length > 0 && (
        <table class="breakdown">
          <caption class="sr-only">
            {tab.label}, by {METRIC_LABELS[first].toLowerCase()}. Choose a value to filter the dashboard by
            it.
          </caption>
          <thead>
            <tr>
              <th scope="col">{tab.column}</th>
              {tab.metrics.map((m) => (
                <th key={m} scope="col" class="num">
                  {METRIC_LABELS[m]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {results.map((row) => {
              const value = row.value ?? '';
              const shown = tab.render ? tab.render(value) : value || '(none)';
              const width = `${(((row[first] ?? 0) / max) * 100).toFixed(1)}%`;
              return (
                <tr
                  key={value}
                  onClick={value ? () => addFilter(value) : undefined}
                  class={value ? 'clickable' : ''}
                >
                  <th scope="row" class="value-cell">
                    <span class="bar" style={{ width }} aria-hidden="true" />
                    {value ? (
                      <button
                        type="button"
                        class="row-filter"
                        title={value}
                        onClick={(e) => {
                          e.stopPropagation();
                          addFilter(value);
                        }}
                      >
                        {shown}
                      </button>
                    ) : (
                      <span class="row-label">{shown}</span>
                    )}
                  </th>
                  {tab.metrics.map((m) => (
                    <td key={m} class="num">
                      {formatMetric(m, row[m])}
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {rows.data && rows.data.pagination.total_rows > results.length && limit < MORE_SIZE && (
        <button type="button" class="link-button more" onClick={() => setExpanded(key)}>
          Show more
        </button>
      )}
    </div>
  );
}
