import { useState } from 'preact/hooks';
import { anonymous } from './api';
import type { DashboardConfig, Session } from './api-types';
import { ErrorMessage, Field, useSubmit } from './forms';
import { Link, navigate } from './router';
import { saveSession } from './session';
import { Shell } from './shell';
import { useFetch } from './use-fetch';

/** Only a path of this site: `next` comes from the URL, so it must not send anyone elsewhere. */
const safeNext = (next: string | null) => (next && /^\/(?!\/)/.test(next) ? next : '/sites');

export function LoginPage({ next }: { next: string | null }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const config = useFetch(
    () => anonymous.get<{ data: DashboardConfig }>('/config').then((r) => r.data),
    'config',
  );
  const { busy, failure, submit } = useSubmit(async () => {
    const res = await anonymous.send<{ data: Session }>('POST', '/auth/login', { email, password });
    saveSession(res.data);
    navigate(safeNext(next), { replace: true });
  });
  return (
    <Shell>
      <div class="auth-card">
        <h1>Sign in</h1>
        <form onSubmit={submit} noValidate>
          <Field
            label="Email"
            name="email"
            type="email"
            autocomplete="email"
            required
            value={email}
            onValue={setEmail}
            failure={failure}
          />
          <Field
            label="Password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onValue={setPassword}
            failure={failure}
          />
          <ErrorMessage error={failure} />
          <button class="button" type="submit" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        {config.data?.signup_open && (
          <p class="muted">
            No account yet? <Link href="/signup">Create one</Link>
          </p>
        )}
      </div>
    </Shell>
  );
}
