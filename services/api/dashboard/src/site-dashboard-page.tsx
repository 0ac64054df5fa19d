import type { Client } from './api';
import type { Site } from './api-types';
import { readState } from './dashboard-state';
import { ErrorMessage } from './forms';
import { navigate, withQuery, type Route } from './router';
import { SiteDashboard } from './site-dashboard';
import { useFetch } from './use-fetch';

/** `/sites/{site_key}`: the signed-in user's dashboard of one site. */
export function SiteDashboardPage({
  client,
  siteKey,
  route,
}: {
  client: Client;
  siteKey: string;
  route: Route;
}) {
  const site = useFetch(
    () => client.get<{ data: Site }>(`/sites/${encodeURIComponent(siteKey)}`).then((r) => r.data),
    siteKey,
  );
  if (site.error) return <ErrorMessage error={site.error} />;
  if (!site.data) return <p class="muted">Loading…</p>;
  return (
    <SiteDashboard
      view={{
        client,
        site: site.data,
        state: readState(route.query),
        query: route.query,
        update: (changes) => navigate(route.path + withQuery(route.query, changes)),
        isPublic: false,
      }}
    />
  );
}
