import { anonymous } from './api';
import type { DashboardConfig, Session } from './api-types';
import { AuthForm } from './auth-form';
import { Link, navigate } from './router';
import { saveSession } from './session';
import { useFetch } from './use-fetch';

/** Only a path of this site: `next` comes from the URL, so it must not send anyone elsewhere. */
const safeNext = (next: string | null) => (next && /^\/(?!\/)/.test(next) ? next : '/sites');

export function LoginPage({ next }: { next: string | null }) {
  const config = useFetch(
    () => anonymous.get<{ data: DashboardConfig }>('/config').then((r) => r.data),
    'config',
  );
  return (
    <AuthForm
      title="Sign in"
      submitLabel="Sign in"
      busyLabel="Signing in…"
      password={{ autocomplete: 'current-password' }}
      send={async (credentials) => {
        const res = await anonymous.send<{ data: Session }>('POST', '/auth/login', credentials);
        saveSession(res.data);
        navigate(safeNext(next), { replace: true });
      }}
    >
      {config.data?.signup_open && (
        <p class="muted">
          No account yet? <Link href="/signup">Create one</Link>
        </p>
      )}
    </AuthForm>
  );
}
