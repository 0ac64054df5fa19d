import { useEffect, useMemo, useRef } from 'preact/hooks';
import { sessionClient } from './api';
import type { Session } from './api-types';
import { LoginPage } from './login-page';
import { navigate, useRoute, type Route } from './router';
import { saveSession, useSession } from './session';
import { SettingsPage } from './settings-page';
import { SharePage } from './share-page';
import { Shell } from './shell';
import { SignupPage } from './signup-page';
import { SiteDashboardPage } from './site-dashboard-page';
import { SitesPage } from './sites-page';

/**
 * After moving to another page (not a query change), focus goes to its content and the view to its
 * top, as a page load would; the first page keeps the browser's own start (skip link first).
 */
function useFocusOnPageChange(path: string) {
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById('main')?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [path]);
}

export function App() {
  const route = useRoute();
  const session = useSession();
  useFocusOnPageChange(route.path);

  const share = /^\/share\/([^/]+)\/?$/.exec(route.path);
  if (share) return <SharePage siteKey={decodeURIComponent(share[1]!)} route={route} />;
  if (route.path === '/login') return <LoginPage next={route.query.get('next')} />;
  if (route.path === '/signup') return <SignupPage />;
  if (!session) return <ToLogin />;
  return <SignedIn session={session} route={route} />;
}

function ToLogin() {
  useEffect(() => {
    const here = location.pathname + location.search;
    navigate(here === '/' ? '/login' : `/login?next=${encodeURIComponent(here)}`, { replace: true });
  }, []);
  return null;
}

function SignedIn({ session, route }: { session: Session; route: Route }) {
  // A 401 means the session ended (expired or revoked): forget it, which leads to the login page.
  const client = useMemo(() => sessionClient(session, () => saveSession(null)), [session.token]);
  const settings = /^\/sites\/([^/]+)\/settings(?:\/([a-z-]+))?\/?$/.exec(route.path);
  const dashboard = /^\/sites\/([^/]+)\/?$/.exec(route.path);
  let page;
  if (route.path === '/' || route.path === '/sites' || route.path === '/sites/') {
    page = <SitesPage client={client} />;
  } else if (settings) {
    page = <SettingsPage client={client} siteKey={decodeURIComponent(settings[1]!)} section={settings[2]} />;
  } else if (dashboard) {
    page = <SiteDashboardPage client={client} siteKey={decodeURIComponent(dashboard[1]!)} route={route} />;
  } else {
    page = <h1>Page not found</h1>;
  }
  return (
    <Shell
      onSignOut={() => {
        saveSession(null);
        navigate('/login', { replace: true });
      }}
    >
      {page}
    </Shell>
  );
}
