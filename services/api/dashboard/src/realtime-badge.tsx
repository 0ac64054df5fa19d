import { useEffect } from 'preact/hooks';
import type { Realtime } from './api-types';
import type { DashboardView } from './dashboard-view';
import { useFetch } from './use-fetch';

const POLL_MS = 30_000;
const WINDOW_MINUTES = 5;

/** Visitors of the last minutes, refreshed while the page is visible. */
export function RealtimeBadge({ view }: { view: DashboardView }) {
  const now = useFetch(
    () =>
      view.client.get<Realtime>('/stats/realtime', { site_id: view.site.site_key, minutes: WINDOW_MINUTES }),
    view.site.site_key,
  );
  useEffect(() => {
    const timer = setInterval(() => document.visibilityState === 'visible' && now.reload(), POLL_MS);
    return () => clearInterval(timer);
  }, [view.site.site_key]);
  const count = now.data?.current_visitors;
  return (
    <p class="realtime" aria-live="polite" title={`Visitors in the last ${WINDOW_MINUTES} minutes`}>
      <span class="pulse" aria-hidden="true" />
      {count === undefined ? '…' : count} current {count === 1 ? 'visitor' : 'visitors'}
    </p>
  );
}
