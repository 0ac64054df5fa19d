import { describeFilter, removeFilter } from './dashboard-state';
import type { DashboardView } from './dashboard-view';

/** The active filters, each removable; together with the period they are the URL's query. */
export function FilterChips({ view }: { view: DashboardView }) {
  const { filters } = view.state;
  if (!filters.length) return null;
  const clearAll = Object.fromEntries(filters.map(([key]) => [key, null]));
  return (
    <div class="filters">
      <h2 class="sr-only">Filters</h2>
      <ul class="chips">
        {filters.map(([key, value]) => {
          const { label, op, value: shown } = describeFilter(key, value);
          const text = `${label} ${op} ${shown}`;
          return (
            <li key={key} class="chip">
              <span>
                {label} {op} <strong>{shown}</strong>
              </span>
              <button
                type="button"
                aria-label={`Remove filter: ${text}`}
                onClick={() => view.update(removeFilter(key))}
              >
                ×
              </button>
            </li>
          );
        })}
      </ul>
      {filters.length > 1 && (
        <button type="button" class="link-button" onClick={() => view.update(clearAll)}>
          Clear all filters
        </button>
      )}
    </div>
  );
}
