import { useMemo } from 'preact/hooks';
import { shareClient } from './api';
import { readState } from './dashboard-state';
import { ErrorMessage } from './forms';
import { navigate, withQuery, type Route } from './router';
import { Shell } from './shell';
import { SiteDashboard } from './site-dashboard';
import { useFetch } from './use-fetch';

/**
 * `/share/{site_key}`: the public dashboard of a site with public stats, for anyone, signed in or
 * not. It reads the stats API with a short-lived share token (routes/share.routes.ts), never with
 * the visitor's own session.
 */
export function SharePage({ siteKey, route }: { siteKey: string; route: Route }) {
  const client = useMemo(() => shareClient(siteKey), [siteKey]);
  const share = useFetch(() => client.token(), siteKey);
  return (
    <Shell>
      {share.error && <ErrorMessage error={share.error} />}
      {!share.data && !share.error && <p class="muted">Loading…</p>}
      {share.data && (
        <SiteDashboard
          view={{
            client,
            site: share.data.site,
            state: readState(route.query),
            query: route.query,
            update: (changes) => navigate(route.path + withQuery(route.query, changes)),
            isPublic: true,
          }}
        />
      )}
      <p class="muted footer-note">
        Public dashboard by <a href="/">Tidemark</a>: privacy-friendly analytics, no cookies.
      </p>
    </Shell>
  );
}
