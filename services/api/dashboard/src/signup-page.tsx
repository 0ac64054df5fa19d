import { useState } from 'preact/hooks';
import { anonymous } from './api';
import type { Session } from './api-types';
import { ErrorMessage, Field, useSubmit } from './forms';
import { Link, navigate } from './router';
import { saveSession } from './session';
import { Shell } from './shell';

export function SignupPage() {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { busy, failure, submit } = useSubmit(async () => {
    const body = { email, password, ...(name.trim() ? { name } : {}) };
    const res = await anonymous.send<{ data: Session }>('POST', '/auth/signup', body);
    saveSession({ token: res.data.token, expires_at: res.data.expires_at });
    navigate('/sites', { replace: true });
  });
  return (
    <Shell>
      <div class="auth-card">
        <h1>Create an account</h1>
        <form onSubmit={submit} noValidate>
          <Field
            label="Name (optional)"
            name="name"
            autocomplete="name"
            value={name}
            onValue={setName}
            failure={failure}
          />
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
            autocomplete="new-password"
            required
            minLength={10}
            hint="At least 10 characters."
            value={password}
            onValue={setPassword}
            failure={failure}
          />
          <ErrorMessage error={failure} />
          <button class="button" type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create account'}
          </button>
        </form>
        <p class="muted">
          Already have an account? <Link href="/login">Sign in</Link>
        </p>
      </div>
    </Shell>
  );
}
